"""Joint supervision (主场为主、客场为辅): the supervision record, incidents, 函告, copy notices and
away-site handovers, with their working-day deadlines.

Pure rules (no clock, no I/O):
    workdays         working-day arithmetic on the Chinese statutory calendar
    notices          copy notices (抄送告知) and away-site handovers (客场资料移交): deadlines
    alerts           which incident each conduct alert becomes

Use cases (each checks the principal with ``evaluation_hub.access`` first, writes its audit
event in the same unit of work, and returns frozen dataclasses, never JSON):
    record           the sessions one supervises; each expert's primary and secondary site
    incidents        监督事件: raise, handle, conclude (a conclusion owes its copy notice)
    alert_incidents  incidents raised and cleared by the conduct monitor
    assistance       函告: the host asks an away venue in writing; that venue answers
    copy_notices     抄送告知: listed and acknowledged by the away venue
    handovers        客场资料移交: opened by the host, marked handed over by each away venue

Shared: ``sites`` (the session facts each use case starts from: who sits where, the caller's
scope), ``models`` (the tables). The JSON and Chinese labels the pages read are the API's views
(``evaluation_hub.supervision.documents``, which the archive stores too).

Errors: a count outside the calendar's covered years raises ``workdays.CalendarNotCovered``
(a ``CalendarError``), which a use case turns into ``Conflict`` (``notices.calendar_refusal``);
refusals are the hub's ``ProblemError`` subclasses.
"""
