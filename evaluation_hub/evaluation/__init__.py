"""The hub's evaluation engine (评审): from an attached bid package to the signed evaluation
report. Use cases (each checks the principal first, runs one unit of work, writes its audit
event and returns typed results; the API's views turn them into JSON):

    package.py     attach the package and commit the shuffle seed, release flagged chapters,
                   an expert's view, the commitment following the committee, start the review
    saves.py       judge and record score saves when they are stored (seat intake, host 代录),
                   the counted sheets
    overview.py    the evaluation at a glance
    review.py      deviation review rounds (pushed to the experts' seats) and answers
    result.py      seal, reveal (the result pushed to the seats for signing), result, report
    signatures.py  the members' signatures on the report
    briefing.py    what a checked-in expert's seat needs to score

Beneath them:

    context.py     loading a session's evaluation (package, committee, shuffle); seat actors
    convergence.py objective-item review requests closing themselves once the values agree
    rules.py       pure: score-save parsing and per-part validation, review requests with the
                   anonymised spread, the deviation share, what the report shows
    report.py      pure: the evaluation report (评标报告) as printable HTML in Chinese
    packages.py    reading a bid package directory and its content digest
    archive.py     the evaluation section of a session archive
    models.py      the tables

No bidder identity (name, credit code) leaves this package before the session is revealed:
before then experts and staff see chapter ids, labels and bidder ids only.
"""
