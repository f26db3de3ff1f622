"""Talk-back (喊话与通知): the host operator and the supervisors speak to a session's seats.

Modules:
    models         the table of what was said (text announcements and push-to-talk turns)
    recipients     who may address which seats of a session (``access.Action.TALK_TO_SEATS``)
    announcements  text announcements: send (audited, stored, pushed), the panel, catch-up
    archive        the session archive's talk-back section (a plug-in of ``archive.sections``)
"""
