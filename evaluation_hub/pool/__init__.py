"""The expert pool (专家库): importing the pool's export and the credit blacklist (信用黑名单),
and automatic recusal (智能回避) of committee members whose employer, recent former employer
or blacklisting conflicts with a bidder of the session.

Pure parts (``expert_file``, ``blacklist_file``, ``names``, ``recusal``) do no I/O; the use
cases (``importing``, ``blacklist``, ``conflicts``) check the principal first and write their
audit events in the same unit of work as the change.
"""
