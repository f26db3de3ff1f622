"""The demo (``evaluation-hub demo``, ``python -m evaluation_hub.demo``, ``make demo``): a
Yunnan host venue, three away venues, seven experts and one evaluation, played by scripts or
by a person at a seat's page or at the host, on the embedded default (SQLite, in-process bus).

A shell like the HTTP API: it builds everything through the hub's use cases and serves through
``evaluation_hub.api.app.create_app``. Modules, by job:

    data       the demo's files (``configs/demo``) and its cast (``DEMO_SEATS``)
    seed       the directory, the session and its committee, the host's booking requests
    stage      the scripted evaluation's set-up up to check-in, and each seat's script
    script     the driver beside the hub: the scripted host and host experts, progress lines
    processes  the seat-agent processes: keys and enrolment, start, stop
    cli        the command: options, serving, Ctrl-C
"""

from evaluation_hub.demo.data import DEMO_DIRECTORY, DEMO_PACKAGE, DEMO_SCORES, DEMO_SEATS

__all__ = ["DEMO_DIRECTORY", "DEMO_PACKAGE", "DEMO_SCORES", "DEMO_SEATS"]
