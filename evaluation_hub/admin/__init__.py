"""Administration (系统管理): the hub's venues, accounts and their passwords, the expert pool,
and the record of every administrative change. The system administrator administers all of
it; a venue admin their own venue's seats and accounts (``evaluation_hub.access``).

Modules:
    passwords    scrypt password hashes and their check (pure: no clock, no database)
    errors       the refusals of administration (``ProblemError`` subclasses)
    users        add a user, disable or re-enable one, reset a password, list accounts
    first_admin  ``evaluation-hub init``: the first system administrator of a fresh database
    signin       signing in: throttled per user and per address with lockout (auth.locked_out
                 on the audit chain), the password checked in a bounded thread pool
    tokens       what a session token claims, its lifetime limit, sign-out and revocation
    venues       register a venue, change it, disable or re-enable it (its seats are then its
                 own admin's, ``booking.directory``)
    experts      add an expert to the pool committees are drawn from
    changes      the administrative changes (操作日志), read from the audit chain
    imports      venues, seats and users from CSV, all or nothing, with a dry run
    cli          ``evaluation-hub init`` and ``user add|list|import``
    directory_cli  ``evaluation-hub venue|seat list|add|import``

Every change and its audit event commit in one unit of work. A password arrives in plain text
(from a shell or a page) and goes no further than ``passwords``: it is never stored, logged,
printed or put on the audit chain. Nothing here imports ``evaluation_hub.api``.
"""
