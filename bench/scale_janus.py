"""The tests' Janus (``tests/support/janus_server.py``: generated configuration, VideoRoom and
HTTP only, API secret and admin key, ICE on this machine's first IPv4 address) with a media
port range wide enough for ``bench/scale.py``: the tests' 200 ports hold a few dozen peer
connections, the bench opens hundreds (a publisher, its viewers and its conduct monitor each
take a port)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from tests.support.janus_server import JanusServer

__all__ = ["ScaleJanus"]


class ScaleJanus(JanusServer):
    def __init__(self, directory: Path, *, ports: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(directory)
        self.ports = max(ports, 200)

    def _configure(self) -> Path:
        config = super()._configure()
        start = 20000 + secrets.randbelow(max(1, 60000 - 20000 - self.ports))
        text = re.sub(
            r'rtp_port_range = "\d+-\d+"',
            f'rtp_port_range = "{start}-{start + self.ports}"',
            config.read_text(),
        )
        # The tests' debug level 4 logs every peer's ICE steps; the bench keeps warnings.
        text = text.replace("debug_level = 4", "debug_level = 3")
        config.write_text(text)
        return config
