"""Every regulatory number in configuration: configs/regulation.yaml states the national
defaults (every field, the dataclass's own values), a deployment file overrides some, an invalid
file is refused with its line, and the values in force are logged at start-up."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from evaluation_hub.config import HubConfig
from evaluation_hub.errors import ConfigError
from evaluation_hub.marked_yaml import MarkedError
from evaluation_hub.regulation import Regulation
from evaluation_hub.regulation_file import (
    NATIONAL_DEFAULTS_FILE,
    load_regulation,
    read_regulation,
    values_in_force,
)
from evaluation_hub.sessions.cutoff import EveningCutoff


def _leaves(obj: object, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            names |= _leaves(value, f"{prefix}{f.name}.")
        else:
            names.add(prefix + f.name)
    return names


def _keys_in_file(path: Path) -> set[str]:
    import yaml

    def walk(doc: dict[str, object], prefix: str) -> set[str]:
        out: set[str] = set()
        for key, value in doc.items():
            if isinstance(value, dict):
                out |= walk(value, f"{prefix}{key}.")
            else:
                out.add(prefix + key)
        return out

    return walk(yaml.safe_load(path.read_text(encoding="utf-8")), "")


def test_the_national_file_states_every_field_with_the_defaults() -> None:
    # A field added to Regulation (or to a rule it holds) needs its line in the file.
    assert _keys_in_file(NATIONAL_DEFAULTS_FILE) == _leaves(Regulation())
    assert read_regulation(NATIONAL_DEFAULTS_FILE) == Regulation()
    assert load_regulation() == Regulation()


def test_values_in_force_are_every_setting_by_name() -> None:
    assert values_in_force(Regulation()) == {
        "committee.min_size": 5,
        "committee.odd": True,
        "committee.min_expert_share": "2/3",
        "outage.decision_after": "2h",
        "outage.seal_after": "4h",
        "review.deviation_share": "0.30",
        "review.deviation_basis": "part_total",
        "supervision.copy_notice_working_days": 7,
        "supervision.handover_working_days": 5,
        "checkin.max_attempts": 5,
        "checkin.lead": "1h",
        "booking_request_ttl": "1d",
        "evening_cutoff.at": "22:00",
        "evening_cutoff.warn_before": "30min",
        "former_employer_years": 3,
        "composition.large_budget": "10000000",
        "composition.large_min_size": 7,
        "composition.large_applies_to_engineering": False,
        "composition.representatives_may_chair_government": False,
        "composition.representatives_may_chair_engineering": True,
    }


def test_a_deployment_file_overrides_what_it_names(tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text(
        "committee:\n  min_size: 7\n"
        "review:\n  deviation_share: 0.25\n"
        "supervision:\n  copy_notice_working_days: 5\n"
        "checkin:\n  max_attempts: 3\n"
        "booking_request_ttl: 90min\n"
        'evening_cutoff:\n  at: "21:30"\n',
        encoding="utf-8",
    )
    got = load_regulation(local)
    assert got.committee.min_size == 7 and got.committee.min_expert_share == Fraction(2, 3)
    assert got.review.deviation_share == Decimal("0.25")
    assert got.supervision.copy_notice_working_days == 5
    assert got.supervision.handover_working_days == 5
    assert got.checkin.max_attempts == 3 and got.checkin.lead == timedelta(minutes=60)
    assert got.booking_request_ttl == timedelta(minutes=90)
    assert got.evening_cutoff == EveningCutoff(time(21, 30), timedelta(minutes=30))
    assert got.outage == Regulation().outage


def test_the_hub_config_reads_the_deployment_file_from_the_environment(tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text("outage:\n  seal_after: 3h\n", encoding="utf-8")
    env = {"EVALHUB_REGULATION_FILE": str(local), "EVALHUB_BOOKING_TTL_MINUTES": "30"}
    config = HubConfig.from_env(env, state_dir=tmp_path / "state")
    assert config.regulation_file == local
    assert config.regulation.outage.seal_after == timedelta(hours=3)
    assert config.regulation.booking_request_ttl == timedelta(minutes=30)
    assert HubConfig.from_env({}, state_dir=tmp_path / "state").regulation == Regulation()


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "committee:\n  min_size: five\n",
            2,
            "committee.min_size must be a whole number, got 'five'",
        ),
        ("committee:\n  min_size: 0\n", 2, "committee.min_size: min_size must be at least 1"),
        (
            "committee:\n  odd: yes please\n",
            2,
            "committee.odd must be true or false, got 'yes please'",
        ),
        (
            "committee:\n  min_expert_share: 4/3\n",
            2,
            "committee.min_expert_share: min_expert_share must be in (0, 1]",
        ),
        (
            "committee:\n  min_expert_share: two thirds\n",
            2,
            "committee.min_expert_share must be a fraction such as 2/3, got 'two thirds'",
        ),
        (
            "\n\noutage:\n  decision_after: 2 hours\n",
            4,
            "outage.decision_after must be a duration such as 90s, 30min, 2h or 1d, got '2 hours'",
        ),
        ("outage:\n  seal_after: 0h\n", 2, "outage.seal_after: outage periods must be positive"),
        (
            "review:\n  deviation_share: 1.5\n",
            2,
            "review.deviation_share: review deviation_share must lie between 0 and 1, got 1.5",
        ),
        (
            "review:\n  deviation_basis: bidder\n",
            2,
            "review.deviation_basis must be one of part_total, item, got 'bidder'",
        ),
        (
            "supervision:\n  copy_notice_working_days: 0\n",
            2,
            "supervision.copy_notice_working_days: supervision copy_notice_working_days must be "
            "at least 1, got 0",
        ),
        (
            "booking_request_ttl: 0min\n",
            1,
            "booking_request_ttl: booking_request_ttl must be positive",
        ),
        (
            "evening_cutoff:\n  at: 22:00\n",
            2,
            'evening_cutoff.at must be a time in quotes, such as "22:00", got 1320',
        ),
        (
            'evening_cutoff:\n  at: "25:00"\n',
            2,
            "evening_cutoff.at must be a time in quotes, such as \"22:00\", got '25:00'",
        ),
        (
            "evening_cutoff:\n  warn_before: 13h\n",
            2,
            "evening_cutoff.warn_before: evening_cutoff warn_before must lie between 0 and "
            "12 h, got 13:00:00",
        ),
        (
            "committee:\n  min_size: 5\n  maximum: 9\n",
            3,
            "committee.maximum is not a regulation setting (min_expert_share, min_size, odd)",
        ),
        (
            "comittee:\n  min_size: 5\n",
            1,
            "comittee is not a regulation setting (booking_request_ttl, checkin, committee, "
            "composition, evening_cutoff, former_employer_years, outage, review, supervision)",
        ),
        ("committee: 5\n", 1, "committee must be a mapping (key: value lines)"),
        ("checkin:\n  lead: 1h\n  lead: 2h\n", 3, "key 'lead' appears twice (first on line 2)"),
        (
            "checkin:\n  lead: [1h\n",
            3,
            "not valid YAML: expected ',' or ']', but got '<stream end>'",
        ),
    ],
)
def test_an_invalid_file_is_refused_with_the_line_at_fault(
    tmp_path: Path, text: str, line: int, problem: str
) -> None:
    local = tmp_path / "local.yaml"
    local.write_text(text, encoding="utf-8")
    with pytest.raises(MarkedError) as caught:
        load_regulation(local)
    assert str(caught.value) == f"{local}:{line}: {problem}"


def test_an_invalid_deployment_file_stops_the_hub_config(tmp_path: Path) -> None:
    local = tmp_path / "local.yaml"
    local.write_text("outage:\n  seal_after: -1h\n", encoding="utf-8")
    with pytest.raises(MarkedError) as caught:
        HubConfig.from_env({"EVALHUB_REGULATION_FILE": str(local)}, state_dir=tmp_path / "s")
    assert str(caught.value) == (
        f"{local}:2: outage.seal_after must be a duration such as 90s, 30min, 2h or 1d, got '-1h'"
    )
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as gone:
        HubConfig.from_env({"EVALHUB_REGULATION_FILE": str(missing)}, state_dir=tmp_path / "s")
    assert str(gone.value) == f"cannot read {missing}: No such file or directory"


def test_the_hub_logs_the_values_in_force_at_start_up(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    from evaluation_hub.api.app import create_app

    local = tmp_path / "local.yaml"
    local.write_text("checkin:\n  max_attempts: 3\n", encoding="utf-8")
    config = HubConfig.from_env({"EVALHUB_REGULATION_FILE": str(local)}, state_dir=tmp_path)
    with capture_logs() as logs:
        create_app(config, check_schema=False, sweep=False)
    (line,) = [entry for entry in logs if entry["event"] == "regulation.in_force"]
    expected = values_in_force(load_regulation()) | {"checkin.max_attempts": 3}
    assert (
        line == {"event": "regulation.in_force", "log_level": "info", "file": str(local)} | expected
    )
