"""Start a throw-away Janus (Debian's ``janus`` package) on 127.0.0.1 for the tests.

The configuration is generated, not copied from /etc/janus: only the VideoRoom plugin and the
HTTP transport are loaded (from folders holding just their two libraries), the HTTP API listens
on 127.0.0.1 on a free port, the admin API is off, every request needs :attr:`JanusServer.api_secret`
and creating a VideoRoom room needs :attr:`JanusServer.admin_key`: only the hub, which holds
both, can drive it. Janus never gathers ICE candidates on a loopback interface (its ICE setup skips
``IFF_LOOPBACK``; ``ice_enforce_list = "127.0.0.1"`` leaves it gathering on every other
interface instead, which bench/media.py found first): so its ICE is confined to this machine's
first non-loopback IPv4 address (:func:`host_address`, no STUN), and the tests' aiortc peers
gather on that address only (:func:`candidates_on`). The media still never leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from media.loopback import candidates_on, host_address
from tests.support.processes import stop_process

__all__ = [
    "JANUS",
    "JANUS_LIB",
    "JanusServer",
    "candidates_on",
    "host_address",
    "janus_available",
    "janus_server",
]

JANUS = Path("/usr/bin/janus")
JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")


def janus_available() -> bool:
    return JANUS.exists() and (JANUS_LIB / "plugins" / "libjanus_videoroom.so").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_range(size: int = 200) -> tuple[int, int]:
    """A port range for Janus's media; a random start so parallel servers rarely overlap
    (Janus picks a free port inside it, so an overlap costs nothing but choice)."""
    start = 20000 + secrets.randbelow(20000)
    return start, start + size


class JanusServer:
    """One janus process; ``url`` is its HTTP API (``http://127.0.0.1:<port>/janus``)."""

    def __init__(self, directory: Path, *, record_dir: Path | None = None) -> None:
        if not janus_available():
            raise RuntimeError(f"{JANUS} is missing; run `scripts/install-system-deps.sh test`")
        self.directory = directory
        self.port = free_port()
        self.api_secret = secrets.token_hex(16)
        self.admin_key = secrets.token_hex(16)
        self.record_dir = record_dir
        self.address = host_address()
        self._process: subprocess.Popen[bytes] | None = None
        self._log = directory / "janus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/janus"

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        return self._log.read_text(errors="replace")[-chars:] if self._log.exists() else ""

    def _configure(self) -> Path:
        conf = self.directory / "conf"
        conf.mkdir(exist_ok=True)
        for kind, keep in (
            ("plugins", "libjanus_videoroom.so"),
            ("transports", "libjanus_http.so"),
            ("events", None),
            ("loggers", None),
        ):
            folder = self.directory / kind
            folder.mkdir(exist_ok=True)
            if keep is not None and not (folder / keep).exists():
                (folder / keep).symlink_to(JANUS_LIB / kind / keep)
        low, high = free_udp_range()
        (conf / "janus.jcfg").write_text(
            f"""general: {{
\tconfigs_folder = "{conf}"
\tplugins_folder = "{self.directory / "plugins"}"
\ttransports_folder = "{self.directory / "transports"}"
\tevents_folder = "{self.directory / "events"}"
\tloggers_folder = "{self.directory / "loggers"}"
\tdebug_level = 4
\tadmin_secret = "{secrets.token_hex(16)}"
\tapi_secret = "{self.api_secret}"
\tsession_timeout = 60
\tprotected_folders = ["/bin", "/boot", "/dev", "/etc", "/initrd", "/lib", "/lib32", "/lib64", "/proc", "/sbin", "/sys", "/usr", "/var"]
}}
certificates: {{}}
media: {{
\trtp_port_range = "{low}-{high}"
}}
nat: {{
\tnice_debug = false
\tice_enforce_list = "127.0.0.1"
}}
plugins: {{}}
transports: {{}}
events: {{}}
loggers: {{}}
"""
        )
        (conf / "janus.transport.http.jcfg").write_text(
            f"""general: {{
\tjson = "indented"
\tbase_path = "/janus"
\thttp = true
\tport = {self.port}
\tip = "127.0.0.1"
\thttps = false
}}
admin: {{
\tadmin_http = false
\tadmin_https = false
}}
cors: {{}}
certificates: {{}}
"""
        )
        (conf / "janus.plugin.videoroom.jcfg").write_text(
            f"""general: {{
\tadmin_key = "{self.admin_key}"
\tlock_rtp_forward = true
\tstring_ids = false
}}
"""
        )
        return conf / "janus.jcfg"

    def start(self, timeout_s: float = 15.0) -> None:
        if self.running:
            return
        config = self._configure()
        log = self._log.open("ab")
        self._process = subprocess.Popen(
            [str(JANUS), "-C", str(config), "-F", str(config.parent), "-o"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            if self._process.poll() is not None:
                raise RuntimeError(f"janus exited on start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"janus did not answer within {timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/info", timeout=0.5) as response:
                return bool(json.loads(response.read()).get("janus") == "server_info")
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def stop(self) -> None:
        process, self._process = self._process, None
        stop_process(process)


@contextlib.contextmanager
def janus_server(*, record: bool = False) -> Iterator[JanusServer]:
    """A started server in a temp dir, stopped and removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="evalhub-janus-"))
    server = JanusServer(directory, record_dir=directory / "rec" if record else None)
    if server.record_dir is not None:
        server.record_dir.mkdir()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
