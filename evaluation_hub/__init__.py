"""The host-site hub (主场): seat directory and booking, evaluation sessions, media, scoring, audit.

Layout:
    db/          SQLAlchemy models, engine set-up, Alembic migrations
    booking/     pure booking rules and seat allocation, and the store that applies them
    bus/         the event bus and seat presence (in-process or Redis)
    api/         the aiohttp application: REST API, problem responses, auth, pages
"""
