"""Expert check-in at a seat (专家签到): one-time PINs issued with the booking.

rules.py    pure: may this expert check in at this seat now with this PIN?
store.py    use cases: seat an expert at a booked seat, issue the session's PINs (host
            business), judge a check-in attempt from a seat terminal
"""
