"""The media plane is chosen in configuration: builtin by default, janus with its instances."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluation_hub.config import HubConfig
from evaluation_hub.errors import ConfigError


def test_the_builtin_forwarder_is_the_default(tmp_path: Path) -> None:
    config = HubConfig.from_env({}, state_dir=tmp_path)
    assert (config.media_backend, config.janus_urls) == ("builtin", ())


def test_janus_is_selected_with_its_instances_and_secrets(tmp_path: Path) -> None:
    config = HubConfig.from_env(
        {
            "EVALHUB_MEDIA_BACKEND": "Janus",
            "EVALHUB_JANUS_URLS": "http://127.0.0.1:8088/janus, http://10.0.0.2:8088/janus",
            "EVALHUB_JANUS_API_SECRET": "api-secret",
            "EVALHUB_JANUS_ADMIN_KEY": "admin-key",
        },
        state_dir=tmp_path,
    )
    assert config.media_backend == "janus"
    assert config.janus_urls == ("http://127.0.0.1:8088/janus", "http://10.0.0.2:8088/janus")
    assert (config.janus_api_secret, config.janus_admin_key) == ("api-secret", "admin-key")
    assert "api-secret" not in repr(config) and "admin-key" not in repr(config)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EVALHUB_MEDIA_BACKEND": "mediasoup"},
            "EVALHUB_MEDIA_BACKEND must be builtin or janus, got 'mediasoup'",
        ),
        (
            {"EVALHUB_MEDIA_BACKEND": "janus"},
            "the janus media backend needs its instances' HTTP API URLs: set "
            "EVALHUB_JANUS_URLS (comma-separated, e.g. http://127.0.0.1:8088/janus)",
        ),
        (
            {"EVALHUB_MEDIA_BACKEND": "janus", "EVALHUB_JANUS_URLS": "127.0.0.1:8088"},
            "EVALHUB_JANUS_URLS: '127.0.0.1:8088' is not an http(s) URL",
        ),
    ],
)
def test_a_bad_media_setting_stops_the_hub_at_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        HubConfig.from_env(env, state_dir=tmp_path)
    assert str(refused.value) == message
