"""Expert check-in at a seat (专家签到): one-time PINs issued with the booking.

rules.py    pure: may this expert check in at this seat now with this PIN? does the seat's
            picture confirm their presence (exactly one face)?
store.py    use cases: seat an expert at a booked seat, issue the session's PINs (host
            business), judge a check-in attempt from a seat terminal
presence.py presence at check-in: recorded with the check-in (an incident when unconfirmed),
            listed for supervisors, confirmed by hand by a host supervisor
picture.py  the port to what each seat's conduct monitor sees (``Services.pictures``)
"""
