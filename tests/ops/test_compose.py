"""docker/check_compose.py: the compose stack and the Dockerfiles as written pass, and each kind
of mistake it exists to catch is named."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_compose", ROOT / "docker" / "check_compose.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stack_as_written_passes() -> None:
    assert checker().compose_problems() == []


def test_pinned_means_a_dotted_version_or_a_digest() -> None:
    pinned = checker().pinned
    assert pinned("postgres:15.10-bookworm")
    assert pinned("prom/prometheus:v2.55.1")
    assert pinned("python:3.11.11-slim-bookworm")
    assert pinned("redis@sha256:" + "a" * 64)
    assert pinned("debian:12.8-slim")
    for loose in (
        "redis", "redis:7", "redis:7.4", "redis:latest", "postgres:15-bookworm",
        "grafana/grafana", "python:3.11-slim", "debian:bookworm-slim",
    ):  # fmt: skip
        assert not pinned(loose), loose


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The docker directory copied, beside links to the sources its Dockerfiles copy."""
    shutil.copytree(ROOT / "docker", tmp_path / "docker")
    for name in ("pyproject.toml", "README.md", "evaluation_hub", "scoring", "seat_protocol",
                 "seat_agent", "media", "configs"):  # fmt: skip
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path / "docker"


def test_mistakes_are_named(repo_copy: Path) -> None:
    compose_file = repo_copy / "compose.yaml"
    compose = yaml.safe_load(compose_file.read_text())
    compose["services"]["redis"]["image"] = "redis:7"
    del compose["services"]["prometheus"]["healthcheck"]
    compose["services"]["hub2"]["depends_on"].pop("migrate")
    compose["services"]["grafana"]["volumes"][0] = (
        "./grafana/provisioning-gone:/etc/grafana/provisioning:ro"
    )
    compose_file.write_text(yaml.safe_dump(compose))
    seat = repo_copy / "Dockerfile.seat"
    seat.write_text(seat.read_text().replace("USER seat:seat\n", "").replace(
        "python:3.11.11-slim-bookworm", "python:3.11-slim"))  # fmt: skip
    hub = repo_copy / "Dockerfile.hub"
    hub.write_text(hub.read_text().replace("COPY configs ./configs", "COPY settings ./settings"))
    assert checker().compose_problems(repo_copy) == [
        "service grafana mounts ./grafana/provisioning-gone, which does not exist",
        "docker/Dockerfile.hub copies settings, which does not exist",
        "service prometheus has no health check",
        "service redis: image redis:7 is not pinned to a release tag or digest",
        "hub2 does not wait for the migration",
        "docker/Dockerfile.seat: base image python:3.11-slim is not pinned to a release tag "
        "or digest",
        "docker/Dockerfile.seat does not end on a non-root USER",
    ]


def test_nginx_t_refuses_a_broken_configuration() -> None:
    # Debian's nginx-light comes with `make test` (scripts/install-system-deps.sh test).
    conf = (ROOT / "docker" / "nginx" / "nginx.conf").read_text()
    assert checker().nginx_test(conf) == []
    (problem,) = checker().nginx_test(
        conf.replace("proxy_read_timeout 1h;", "proxy_read_timeout;", 1)
    )
    assert problem.startswith("nginx -t refuses nginx.conf: ")
    assert 'invalid number of arguments in "proxy_read_timeout" directive' in problem
