"""Expert check-in at a seat (专家签到): one-time PINs issued with the booking."""
