"""Joint supervision (主场为主、客场为辅): working-day deadlines and the notices that carry them.

Modules:
    workdays   working-day arithmetic on the Chinese statutory calendar (pure)
    notices    copy notices (抄送告知) and away-site handovers (客场资料移交) (pure)

Errors: a count outside the calendar's covered years raises ``workdays.CalendarNotCovered``
(a ``CalendarError``); refused acknowledgements raise the hub's ``InvalidInput``/``Conflict``.
Nothing here reads a clock, a file or a database.
"""
