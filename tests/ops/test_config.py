"""Who may read /metrics, from the environment: EVALHUB_METRICS_ALLOW and EVALHUB_METRICS_TOKEN,
checked when the hub starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation_hub.config import HubConfig
from evaluation_hub.errors import ConfigError
from evaluation_hub.ops.scrape import metrics_allowed


def config(tmp_path: Path, **env: str) -> HubConfig:
    return HubConfig.from_env({"EVALHUB_TOKEN_SECRET": "s" * 40, **env}, state_dir=tmp_path)


def test_defaults_let_the_hubs_own_host_only(tmp_path: Path) -> None:
    found = config(tmp_path)
    assert (found.metrics_allow, found.metrics_token) == (("127.0.0.1/32", "::1/128"), None)
    assert metrics_allowed("127.0.0.1", None, found.metrics_allow, found.metrics_token)
    assert metrics_allowed("::1", None, found.metrics_allow, found.metrics_token)
    assert not metrics_allowed("10.0.0.5", None, found.metrics_allow, found.metrics_token)
    assert not metrics_allowed("unknown", None, found.metrics_allow, found.metrics_token)


def test_an_allow_list_and_a_token(tmp_path: Path) -> None:
    token = "k" * 32
    found = config(
        tmp_path, EVALHUB_METRICS_ALLOW=" 10.1.0.0/16 , 192.0.2.7", EVALHUB_METRICS_TOKEN=token
    )
    assert found.metrics_allow == ("10.1.0.0/16", "192.0.2.7")
    assert metrics_allowed("10.1.200.3", None, found.metrics_allow, found.metrics_token)
    assert metrics_allowed("192.0.2.7", None, found.metrics_allow, found.metrics_token)
    assert not metrics_allowed("127.0.0.1", None, found.metrics_allow, found.metrics_token)
    bearer = f"Bearer {token}"
    assert metrics_allowed("198.51.100.1", bearer, found.metrics_allow, found.metrics_token)
    assert metrics_allowed("198.51.100.1", f"bearer {token}", found.metrics_allow, token)
    assert not metrics_allowed("198.51.100.1", f"Basic {token}", found.metrics_allow, token)
    assert not metrics_allowed("198.51.100.1", "Bearer " + "x" * 32, found.metrics_allow, token)
    # Empty: no address by itself, only the token.
    assert config(tmp_path, EVALHUB_METRICS_ALLOW="").metrics_allow == ()


def test_bad_settings_stop_the_hub_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config(tmp_path, EVALHUB_METRICS_ALLOW="10.0.0.0/8,prometheus")
    assert str(info.value) == "EVALHUB_METRICS_ALLOW: 'prometheus' is not an address or network"
    with pytest.raises(ConfigError) as info:
        config(tmp_path, EVALHUB_METRICS_TOKEN="short")
    assert str(info.value) == "EVALHUB_METRICS_TOKEN must be at least 32 characters long"
