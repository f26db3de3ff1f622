"""Seat directory and booking (工位预约): pure rules, allocation proposals, and the store."""
