"""Every regulatory number the hub applies (评标规则参数), with the national defaults.

Published measures fix these numbers; a province or city may set its own. They are all here,
in one frozen value the hub carries as ``HubConfig.regulation``, so a reader finds each number
in one place and each rule receives it from its use case instead of hard-coding it:

| field | default | rule (module that applies it) | source |
|---|---|---|---|
| ``committee`` | odd, ≥ 5, experts ≥ 2/3 | committee lawfulness (``sessions.committee``) | tendering law, procurement order |
| ``outage.decision_after`` | 2 h | tenderer decides after a delayed start (``sessions.outage``) | city measure |
| ``outage.seal_after`` | 4 h | unfixed fault during evaluation → seal (``sessions.outage``) | city measure |
| ``review.deviation_share`` | 30 % of the mean | score deviation needing an explanation (``scoring.review``) | procurement guidance |
| ``review.deviation_basis`` | ``part_total`` | deviation judged on each expert's total per bidder and part (``item``: every subjective item too) | practice |
| ``supervision.copy_notice_working_days`` | 7 | copy of a finding to the away site (``supervision.notices``) | provincial joint-supervision notice |
| ``supervision.handover_working_days`` | 5 | away site hands its records to the host (``supervision.notices``) | city measure |
| ``checkin.max_attempts`` | 5 | wrong PINs before the PIN locks (``checkin.rules``) | centre practice |
| ``checkin.lead`` | 60 min | check-in opens before the window (``checkin.rules``) | centre practice |
| ``booking_request_ttl`` | 24 h | unconfirmed booking requests lapse (``booking.rules``) | dispatch system |
| ``evening_cutoff.at`` | 22:00 | 开评分离: no evaluation past it; paused there (``sessions.cutoff``) | city measure |
| ``evening_cutoff.warn_before`` | 30 min | the host is warned this long before the cut-off (``sessions.cutoff``) | centre practice |
| ``former_employer_years`` | 3 years | former employers counted by recusal (``pool.recusal``) | 政府采购法实施条例 art. 9 |
| ``composition.large_min_size`` / ``large_budget`` | 7 from 10 million yuan (政府采购) | least committee size (``sessions.committee``) | 财政部令第87号 art. 47 |
| ``composition.representatives_may_chair_government`` / ``_engineering`` | no / yes | a representative may be elected chair (``sessions.chair``) | local choice |

The values in force come from ``configs/regulation.yaml`` (the national defaults, the same as
the defaults below; a test keeps the two equal and every field in the file) and a deployment's
own file on top (``EVALHUB_REGULATION_FILE``), read by ``evaluation_hub.regulation_file``,
which maps the file's keys to these fields by name: a new field needs only its default here and
a line in the file.

A bid package may set its own deviation share (its evaluation method, 评标办法, is part of the
tender documents); ``review.deviation_share`` applies when it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from evaluation_hub.checkin.rules import CheckinPolicy
from evaluation_hub.errors import ConfigError
from evaluation_hub.sessions.committee import CommitteeRules, CompositionRules
from evaluation_hub.sessions.cutoff import EveningCutoff
from evaluation_hub.sessions.outage import OutageRules
from evaluation_hub.supervision.notices import SupervisionDeadlines

__all__ = ["DeviationBasis", "Regulation", "ReviewRules"]


DeviationBasis = Literal["part_total", "item"]


@dataclass(frozen=True)
class ReviewRules:
    """The deviation review (偏离复核): how far from the members' mean a score may lie before
    the expert must explain it or re-score (``deviation_share``; a bid package's evaluation
    method may set its own), and what is compared (``deviation_basis``): each expert's total
    per bidder and part against the members' mean of it (``part_total``, as practice does), or
    every subjective item as well (``item``)."""

    deviation_share: Decimal = Decimal("0.30")
    deviation_basis: DeviationBasis = "part_total"

    def __post_init__(self) -> None:
        if not Decimal(0) < self.deviation_share < Decimal(1):
            raise ConfigError(
                f"review deviation_share must lie between 0 and 1, got {self.deviation_share}"
            )
        if self.deviation_basis not in ("part_total", "item"):
            raise ConfigError(
                f"review deviation_basis must be part_total or item, got {self.deviation_basis!r}"
            )


@dataclass(frozen=True)
class Regulation:
    committee: CommitteeRules = field(default_factory=CommitteeRules)
    outage: OutageRules = field(default_factory=OutageRules)
    review: ReviewRules = field(default_factory=ReviewRules)
    supervision: SupervisionDeadlines = field(default_factory=SupervisionDeadlines)
    checkin: CheckinPolicy = field(default_factory=CheckinPolicy)
    booking_request_ttl: timedelta = timedelta(hours=24)
    evening_cutoff: EveningCutoff = field(default_factory=EveningCutoff)

    # --- expert pool, recusal and committee composition (p3-pool, issue 13 items 2-3) ---
    #: an employer the expert left within this many calendar years still counts for recusal
    #: (智能回避): 3, as 《政府采购法实施条例》第九条 (参加采购活动前3年内与供应商存在劳动关系)
    former_employer_years: int = 3
    #: the least size by procurement type and budget, and who may not chair (sessions.committee)
    composition: CompositionRules = field(default_factory=CompositionRules)
    # --- end of p3-pool's block ---

    def __post_init__(self) -> None:
        if self.booking_request_ttl <= timedelta(0):
            raise ConfigError("booking_request_ttl must be positive")
        if self.former_employer_years < 0:
            raise ConfigError("former_employer_years must not be negative")
