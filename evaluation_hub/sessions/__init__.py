"""Evaluation sessions (评标会) as pure rules: the lifecycle state machine, the outage clocks and
committee formation at check-in. No I/O here; the store and the API apply these rules.

    lifecycle.py   states, transitions, who may make them, the transition record
    outage.py      what the host must do, and by when, after a fault (published measures)
    committee.py   confirmation and recusal (回避) at check-in, committee composition, chair vote
    errors.py      SessionRuleError, the one exception these rules raise
"""
