"""The hub image's HEALTHCHECK: GET /api/health on this container's hub, HTTPS if it serves TLS
itself (EVALHUB_TLS_CERT), exit 0 on 200. Standard library only; certificate not checked
(loopback, the hub's own port)."""

import json
import os
import ssl
import sys
import urllib.request

scheme = "https" if os.environ.get("EVALHUB_TLS_CERT") else "http"
port = os.environ.get("EVALHUB_PORT", "8440")
context = ssl._create_unverified_context() if scheme == "https" else None
try:
    with urllib.request.urlopen(
        f"{scheme}://127.0.0.1:{port}/api/health", timeout=2, context=context
    ) as answer:
        healthy = answer.status == 200 and json.load(answer).get("status") == "ok"
except (OSError, ValueError):
    healthy = False
sys.exit(0 if healthy else 1)
