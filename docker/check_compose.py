"""Check docker/compose.yaml and the Dockerfiles without a Docker daemon.

    python docker/check_compose.py        # exit 0 and "ok", or 1 and one problem per line

What it checks (tests/ops/test_compose.py runs it in the suite):

* the services are the stack's: PostgreSQL, Redis, Janus, the migration, three hubs, nginx,
  Prometheus, Grafana; each long-running one has a health check, and each waits for what it
  needs to be healthy (hubs: migrated database and Redis; nginx: the hubs);
* every image is pinned to a release tag (a version with a dot) or a digest, never ``latest``
  or a bare major version, and so is every Dockerfile's ``FROM``;
* every Dockerfile runs as a non-root ``USER``; the hub's has a ``HEALTHCHECK`` on
  ``/api/health``;
* every file the stack refers to exists: Dockerfiles, what they COPY, bind mounts, secrets
  (the TLS certificate and key are the operator's to put in docker/tls/, whose README says how);
* nginx sends to exactly the hubs, Prometheus scrapes exactly the hubs, loads the alert rules
  and its address is the one the hubs let read /metrics; the hubs trust nginx's address;
* where Debian's nginx is installed, ``nginx -t`` accepts nginx.conf (the hub names pointed at
  loopback and a throw-away certificate).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

DOCKER = Path(__file__).resolve().parent
ROOT = DOCKER.parent
HUBS = ("hub1", "hub2", "hub3")
SERVICES = {"postgres", "redis", "janus", "migrate", *HUBS, "nginx", "prometheus", "grafana"}
ONE_SHOT = {"migrate"}
#: Files the operator supplies (never committed); docker/tls/README.md says how to make them.
OPERATOR_FILES = {"tls/hub.crt", "tls/hub.key"}
_IMAGE = re.compile(
    r"^(?P<name>[^:@\s]+)(?::(?P<tag>[^:@\s]+))?(?:@sha256:(?P<digest>[0-9a-f]{64}))?$"
)
#: Images whose releases are numbered major.minor (a patch number does not exist for them).
_TWO_PART_VERSIONS = {"postgres", "debian"}


def pinned(image: str) -> bool:
    """A digest, or a tag naming one release: major.minor.patch (``3.11.11-slim-bookworm``,
    ``v2.55.1``), or major.minor for PostgreSQL and Debian (``15.10-bookworm``, ``12.8-slim``);
    never ``latest`` or a series (``3.11-slim``, ``7``)."""
    match = _IMAGE.match(image)
    if match is None:
        return False
    if match.group("digest"):
        return True
    tag = match.group("tag") or ""
    parts = 2 if match.group("name").rsplit("/", 1)[-1] in _TWO_PART_VERSIONS else 3
    return re.match(r"^v?\d+" + r"\.\d+" * (parts - 1) + r"(?![.\d])", tag) is not None


def _healthy(service: dict[str, Any]) -> bool:
    check = service.get("healthcheck") or {}
    return bool(check.get("test")) and not check.get("disable")


def _needs(service: dict[str, Any], other: str, condition: str) -> bool:
    depends = service.get("depends_on") or {}
    return isinstance(depends, dict) and (depends.get(other) or {}).get("condition") == condition


def dockerfile_problems(path: Path, context: Path, *, hub: bool) -> list[str]:
    name = path.relative_to(context) if path.is_relative_to(context) else path
    if not path.exists():
        return [f"{name} does not exist"]
    lines = _instructions(path.read_text(encoding="utf-8"))
    problems = []
    froms = [args.split()[0] for op, args in lines if op == "FROM"]
    if not froms:
        problems.append(f"{name} has no FROM")
    for base in froms:
        if not pinned(base):
            problems.append(f"{name}: base image {base} is not pinned to a release tag or digest")
    users = [args.split(":")[0] for op, args in lines if op == "USER"]
    if not users or users[-1] in ("root", "0"):
        problems.append(f"{name} does not end on a non-root USER")
    health = [args for op, args in lines if op == "HEALTHCHECK"]
    if hub and not any("CMD" in h for h in health):
        problems.append(f"{name} has no HEALTHCHECK")
    for op, args in lines:
        if op == "COPY" and "--from=" not in args:
            for source in args.split()[:-1]:
                if not source.startswith("--") and not (context / source).exists():
                    problems.append(f"{name} copies {source}, which does not exist")
    return problems


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            op, _, args = stripped.partition(" ")
            found.append((op.upper(), args.strip()))
    return found


def _address(service: dict[str, Any]) -> str | None:
    networks = service.get("networks") or {}
    if isinstance(networks, dict):
        for settings in networks.values():
            if settings and settings.get("ipv4_address"):
                return str(settings["ipv4_address"])
    return None


def compose_problems(docker: Path = DOCKER) -> list[str]:
    compose = yaml.safe_load((docker / "compose.yaml").read_text(encoding="utf-8"))
    services: dict[str, dict[str, Any]] = compose.get("services") or {}
    problems = []
    if set(services) != SERVICES:
        missing, extra = sorted(SERVICES - set(services)), sorted(set(services) - SERVICES)
        problems.append(f"services: missing {missing}, unexpected {extra}")
    for name, service in sorted(services.items()):
        if name not in ONE_SHOT and not _healthy(service):
            problems.append(f"service {name} has no health check")
        image = service.get("image")
        if "build" in service:
            build = service["build"]
            context = (docker / build.get("context", ".")).resolve()
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            found = dockerfile_problems(dockerfile, context, hub=name in (*HUBS, "migrate"))
            problems += [p for p in found if p not in problems]
        elif image is None or not pinned(str(image)):
            problems.append(
                f"service {name}: image {image} is not pinned to a release tag or digest"
            )
        for volume in service.get("volumes") or []:
            source = str(volume).split(":")[0]
            if source.startswith((".", "/")) and not (docker / source).exists():
                problems.append(f"service {name} mounts {source}, which does not exist")
    for hub in HUBS:
        service = services.get(hub, {})
        if not _needs(service, "migrate", "service_completed_successfully"):
            problems.append(f"{hub} does not wait for the migration")
        if not _needs(service, "redis", "service_healthy"):
            problems.append(f"{hub} does not wait for a healthy Redis")
        if not _needs(services.get("nginx", {}), hub, "service_healthy"):
            problems.append(f"nginx does not wait for a healthy {hub}")
    if not _needs(services.get("migrate", {}), "postgres", "service_healthy"):
        problems.append("migrate does not wait for a healthy PostgreSQL")
    for secret, spec in (compose.get("secrets") or {}).items():
        path = docker / spec["file"]
        if not path.exists() and path.relative_to(docker).as_posix() not in OPERATOR_FILES:
            problems.append(f"secret {secret}: {spec['file']} does not exist")
    if not (docker / "tls" / "README.md").exists():
        problems.append("docker/tls/README.md (how to make the certificate) is missing")
    # Every image of the repository, the seat's too (no service of this stack builds it).
    for dockerfile in sorted(docker.glob("Dockerfile.*")):
        if dockerfile.suffix != ".dockerignore":
            found = dockerfile_problems(
                dockerfile, docker.parent, hub=dockerfile.name == "Dockerfile.hub"
            )
            problems += [p for p in found if p not in problems]
    problems += _wiring_problems(docker, services)
    return problems


def _wiring_problems(docker: Path, services: dict[str, dict[str, Any]]) -> list[str]:
    problems = []
    env = services.get("hub1", {}).get("environment") or {}
    prometheus_ip, nginx_ip = (
        _address(services.get("prometheus", {})),
        _address(services.get("nginx", {})),
    )
    allowed = str(env.get("EVALHUB_METRICS_ALLOW", "")).split(",")
    if prometheus_ip is None or f"{prometheus_ip}/32" not in allowed:
        problems.append("the hubs do not let Prometheus's address read /metrics")
    if nginx_ip is None or str(env.get("EVALHUB_TRUSTED_PROXIES")) != nginx_ip:
        problems.append("the hubs do not trust nginx's address as their proxy")
    prometheus = yaml.safe_load(
        (docker / "prometheus" / "prometheus.yml").read_text(encoding="utf-8")
    )
    if prometheus.get("rule_files") != ["/etc/prometheus/alerts.yml"]:
        problems.append("Prometheus does not load /etc/prometheus/alerts.yml")
    targets = [
        t
        for job in prometheus["scrape_configs"]
        for sc in job["static_configs"]
        for t in sc["targets"]
    ]
    if sorted(targets) != [f"{hub}:8440" for hub in HUBS]:
        problems.append(f"Prometheus scrapes {targets}, not the three hubs")
    conf = (docker / "nginx" / "nginx.conf").read_text(encoding="utf-8")
    upstream = re.findall(r"^\s*server\s+(\S+?):8440\b", conf, re.MULTILINE)
    if sorted(upstream) != list(HUBS):
        problems.append(f"nginx sends to {upstream}, not the three hubs")
    if "proxy_set_header Upgrade $http_upgrade" not in conf:
        problems.append("nginx does not pass websockets through")
    if not re.search(r"listen\s+8443\s+ssl", conf):
        problems.append("nginx does not end TLS")
    grafana = docker / "grafana"
    for needed in (
        "dashboards/evaluation-hub.json",
        "provisioning/dashboards/evaluation-hub.yaml",
        "provisioning/datasources/prometheus.yaml",
    ):
        if not (grafana / needed).exists():
            problems.append(f"docker/grafana/{needed} is missing")
    problems += nginx_test(conf)
    return problems


def nginx_test(conf: str) -> list[str]:
    """``nginx -t`` on the configuration where nginx is installed; nothing to say otherwise."""
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if nginx is None:
        return []
    with tempfile.TemporaryDirectory(prefix="check-nginx-") as tmp:
        where = Path(tmp)
        _throwaway_certificate(where / "hub.crt", where / "hub.key")
        # Temp files and the pid file into the throw-away directory, the certificate beside.
        local = conf.replace("/tmp/", f"{where}/").replace("/etc/nginx/tls/", f"{where}/")
        for hub in HUBS:
            local = local.replace(f"server {hub}:8440", "server 127.0.0.1:8440")
        (where / "nginx.conf").write_text(local, encoding="utf-8")
        run = subprocess.run(
            [nginx, "-t", "-q", "-p", str(where), "-c", str(where / "nginx.conf"), "-e", "stderr"],
            capture_output=True,
            text=True,
            check=False,
        )
    if run.returncode != 0:
        return [f"nginx -t refuses nginx.conf: {run.stderr.strip()}"]
    return []


def _throwaway_certificate(cert: Path, key: Path) -> None:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "check-compose.invalid")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def main() -> int:
    problems = compose_problems()
    for problem in problems:
        print(problem)
    if not problems:
        print("ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
