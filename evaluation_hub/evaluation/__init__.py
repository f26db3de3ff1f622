"""The hub's evaluation engine: from an attached bid package to the signed evaluation report.

    rules.py    pure: score-save parsing and per-part validation, review requests with the
                anonymised spread, seal check, signature documents, what the report shows
    report.py   pure: the evaluation report (评标报告) as printable HTML in Chinese
    packages.py reading a bid package directory and its content digest
    store.py    the database shell: attach, overrides, saves (host API and seat intake),
                review round, seal, reveal, result, signatures; lifecycle moves through
                ``evaluation_hub.sessions.store`` and every change appends an audit event
    models.py   the tables

No bidder identity (name, credit code) leaves this package before the session is sealed:
before then experts and staff see chapter ids, labels and bidder ids only.
"""
