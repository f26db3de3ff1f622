"""Aggregation (汇总): the committee's re-integrated scores become one score per bidder.

Rules (``AggregationRule``):

* ``mean``      — per item, the arithmetic mean of every expert's score;
* ``trimmed``   — with more than 5 experts, per item drop one highest and one lowest score
  (one score each, even when several experts gave the same extreme), then the mean; with 5 or
  fewer, the mean;
* ``highway9``  — with exactly 9 experts, first drop every score of the one expert whose
  totals spread most, then as ``trimmed`` (8 left → per item 6 kept); otherwise ``trimmed``.
  An expert's totals are their weighted technical + commercial total for each bidder; the
  spread is max − min. A tie is broken by the next spread (second highest − second lowest,
  and so on inwards); experts tied on every spread cannot be told apart by the rule, so the
  engine refuses to choose and the committee names the expert to drop (``drop_expert``).

Rounding happens once per published figure, never on intermediate means:

    item score     = rule(experts' item scores)                       unrounded
    chapter score  = Σ item scores                                     unrounded
    technical      = round(Σ chapter weight × chapter score)          ← rounded here
    commercial     = round(Σ commercial item scores)                   ← rounded here

(composite and price scores are rounded in ``scoring.price``). ``per_expert`` keeps every
expert's own weighted totals, unrounded, for the report.

This module must never look at labels: it runs after re-integration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from scoring.decimals import CONTEXT, mean, quantize
from scoring.errors import AggregationError
from scoring.model import COMMERCIAL_PART, AggregationRule, BidPackage
from scoring.sheets import Reintegrated

__all__ = [
    "Aggregation",
    "BidderScore",
    "aggregate",
    "expert_totals",
    "highway_drop",
    "trimmed_mean",
]


def trimmed_mean(values: Sequence[Decimal]) -> Decimal:
    """Drop one highest and one lowest value, mean of the rest (needs at least 3 values)."""
    if len(values) < 3:
        raise AggregationError(
            f"dropping the highest and lowest of {len(values)} scores leaves none"
        )
    ordered = sorted(values)
    return mean(ordered[1:-1])


@dataclass(frozen=True, slots=True)
class BidderScore:
    bidder_id: str
    #: aggregated item scores, (part id, item id) → points, unrounded
    items: Mapping[tuple[str, str], Decimal]
    #: chapter id → Σ aggregated item scores, unrounded
    chapters: Mapping[str, Decimal]
    technical: Decimal
    commercial: Decimal
    #: expert id → (weighted technical total, commercial total), unrounded
    per_expert: Mapping[str, tuple[Decimal, Decimal]]


@dataclass(frozen=True, slots=True)
class Aggregation:
    rule: AggregationRule
    places: int
    experts: tuple[str, ...]
    #: the experts whose scores were used (all of them unless highway9 dropped one)
    kept_experts: tuple[str, ...]
    dropped_expert: str | None
    #: highway9: each expert's spread vector (outermost first), for the report
    spreads: Mapping[str, tuple[Decimal, ...]]
    bidders: Mapping[str, BidderScore]


def expert_totals(
    scores: Reintegrated, package: BidPackage, expert_id: str, bidder_id: str
) -> tuple[Decimal, Decimal]:
    """One expert's (weighted technical, commercial) totals for one bidder, unrounded."""
    technical = sum(
        (
            CONTEXT.multiply(
                c.weight,
                sum((scores.score(expert_id, c.id, bidder_id, i.id) for i in c.items), Decimal(0)),
            )
            for c in package.chapters
        ),
        Decimal(0),
    )
    commercial = sum(
        (
            scores.score(expert_id, COMMERCIAL_PART, bidder_id, i.id)
            for i in package.commercial_items
        ),
        Decimal(0),
    )
    return technical, commercial


def _spread(totals: Sequence[Decimal]) -> tuple[Decimal, ...]:
    ordered = sorted(totals)
    return tuple(ordered[-1 - k] - ordered[k] for k in range(len(ordered) // 2))


def highway_drop(
    totals: Mapping[str, Sequence[Decimal]], drop_expert: str | None = None
) -> tuple[str, dict[str, tuple[Decimal, ...]]]:
    """The expert the 9-member rule drops, and every expert's spread vector."""
    spreads = {e: _spread(t) for e, t in totals.items()}
    if drop_expert is not None:
        if drop_expert not in spreads:
            raise AggregationError(f"drop_expert {drop_expert} is not on the committee")
        return drop_expert, spreads
    widest = max(spreads.values())
    tied = sorted(e for e, s in spreads.items() if s == widest)
    if len(tied) > 1:
        raise AggregationError(
            f"experts {', '.join(tied)} tie on every spread of their totals; the 9-member rule "
            f"cannot choose whom to drop, so the committee must decide and pass drop_expert"
        )
    return tied[0], spreads


def aggregate(
    scores: Reintegrated,
    package: BidPackage,
    *,
    rule: AggregationRule | None = None,
    places: int | None = None,
    drop_expert: str | None = None,
) -> Aggregation:
    """Aggregate per the package's evaluation method (or the given overrides)."""
    rule = rule or package.method.aggregation
    places = places or package.method.rounding_places
    experts = scores.expert_ids
    if not experts:
        raise AggregationError("no score sheets to aggregate")
    per_expert = {
        b: {e: expert_totals(scores, package, e, b) for e in experts} for b in package.bidder_ids
    }
    kept = experts
    dropped: str | None = None
    spreads: dict[str, tuple[Decimal, ...]] = {}
    if rule is AggregationRule.HIGHWAY9 and len(experts) == 9:
        totals = {
            e: [per_expert[b][e][0] + per_expert[b][e][1] for b in package.bidder_ids]
            for e in experts
        }
        dropped, spreads = highway_drop(totals, drop_expert)
        kept = tuple(e for e in experts if e != dropped)
    trim = rule is not AggregationRule.MEAN and len(kept) > 5

    def item_score(part: str, bidder: str, item: str) -> Decimal:
        values = [scores.score(e, part, bidder, item) for e in kept]
        return trimmed_mean(values) if trim else mean(values)

    results: dict[str, BidderScore] = {}
    for b in package.bidder_ids:
        items: dict[tuple[str, str], Decimal] = {}
        chapters: dict[str, Decimal] = {}
        for c in package.chapters:
            for i in c.items:
                items[c.id, i.id] = item_score(c.id, b, i.id)
            chapters[c.id] = sum((items[c.id, i.id] for i in c.items), Decimal(0))
        for i in package.commercial_items:
            items[COMMERCIAL_PART, i.id] = item_score(COMMERCIAL_PART, b, i.id)
        technical = sum(
            (CONTEXT.multiply(c.weight, chapters[c.id]) for c in package.chapters), Decimal(0)
        )
        commercial = sum(
            (items[COMMERCIAL_PART, i.id] for i in package.commercial_items), Decimal(0)
        )
        results[b] = BidderScore(
            b,
            items,
            chapters,
            quantize(technical, places),
            quantize(commercial, places),
            per_expert[b],
        )
    return Aggregation(rule, places, experts, kept, dropped, spreads, results)
