"""Administration (系统管理): the hub's accounts and their passwords, the venues of the
directory and the expert pool, all a system administrator's.

Modules:
    passwords  scrypt password hashes and their check (pure: no clock, no database)
    errors     the refusals of administration (``ProblemError`` subclasses)
    users      the use cases: add a user, disable or re-enable one, reset a password; each
               checks that the actor is a system administrator and writes an audit event
    signin     signing in: throttled per user and per address with lockout (auth.locked_out
               on the audit chain), the password checked in a bounded thread pool
    tokens     what a session token claims, its lifetime limit, sign-out and revocation
    venues     register a venue (its seats are then its own admin's, ``booking.directory``)
    experts    add an expert to the pool committees are drawn from
    cli        ``evaluation-hub user add``, a thin shell over ``users.add_user``

A password arrives in plain text from a shell and goes no further than ``passwords``: it is
never stored, logged, printed or put on the audit chain. Nothing here imports
``evaluation_hub.api``.
"""
