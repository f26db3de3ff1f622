"""The hub's own clock-driven moves (计时规则): rules that act when a time passes, not when a
person asks.

    session_rules  the evening cut-off (开评分离: warn, then pause) and the outage limits
                   (pause, seal for a new committee) applied to every running session
    runner         each periodic job (expiry sweep, session rules, audit checkpoints) on a
                   timer, run only while this process holds the job's lease
    lease          the leases: one row per job in the database, renewed by its holder

Each decision is a pure function of (session state, now, regulation) in its rule's module
(``sessions.cutoff.decide``, ``sessions.outage.enforcement``); the use case here takes ``now``,
makes the move through the lifecycle in one unit of work with its audit event, and tells the
host's channel. The shell (``api/app.py``) runs it on a timer through ``runner.Timers``.
"""
