"""Aggregation (汇总): the committee's re-integrated scores become one score per bidder.

Rules (``AggregationRule``):

* ``mean``      — per item, the arithmetic mean of every expert's score;
* ``trimmed``   — with more than ``trim_above`` experts (default 5), per item drop one highest
  and one lowest score (one score each, even when several experts gave the same extreme), then
  the mean; with ``trim_above`` or fewer, the mean. With ``trim_basis: totals`` the experts'
  totals are trimmed instead: per bidder and part (technical, commercial) the expert with the
  highest and the one with the lowest total are left out and every item is the mean of the
  others' scores, so the part's score is the mean of the kept experts' totals. Several experts
  sharing the lowest (highest) total: the first (last) of them in committee order is left
  out — the part's score is the same whichever it is;
* ``highway9``  — with exactly 9 experts, first drop every score of the one expert whose
  totals spread most, then as ``trimmed`` (8 left → per item 6 kept); otherwise ``trimmed``.
  An expert's totals are their weighted technical + commercial total for each bidder; the
  spread is max − min. A tie is broken by the next spread (second highest − second lowest,
  and so on inwards); experts tied on every spread cannot be told apart by the rule, so the
  engine refuses to choose and the committee names the expert to drop (``drop_expert``).

Rounding happens once per published figure, never on intermediate means, each to its own
places (``EvaluationMethod.technical_rounding`` / ``commercial_rounding``: technical at 3 and
commercial at 2, say; both default to the method's ``rounding_places``):

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
from dataclasses import dataclass, field
from decimal import Decimal

from scoring.decimals import CONTEXT, mean, quantize
from scoring.errors import AggregationError
from scoring.model import COMMERCIAL_PART, AggregationRule, BidPackage, TrimBasis
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
    #: trim_basis totals: part ("technical", "commercial") → the experts left out for this
    #: bidder (lowest total first); empty when items are trimmed or nothing is
    trimmed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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
    #: whether the highest and lowest were dropped, of what, and from which committee size on
    trimmed: bool = False
    trim_basis: TrimBasis = TrimBasis.ITEMS
    trim_above: int = 5
    #: places of the technical and commercial scores (``places`` when not set per figure)
    technical_places: int | None = None
    commercial_places: int | None = None

    def describe(self) -> str:
        """The rule as applied, in the words of an evaluation report."""
        if not self.trimmed:
            text = "各专家评分的算术平均"
            if self.rule is not AggregationRule.MEAN:
                text += f"（评标委员会 {self.trim_above} 人及以下，不去掉最高分和最低分）"
        elif self.trim_basis is TrimBasis.TOTALS:
            text = (
                "对每个投标人的技术部分和商务部分，分别去掉总分最高和最低的各一名专家后的算术平均"
            )
        else:
            text = "每项去掉一个最高分和一个最低分后的算术平均"
        if self.dropped_expert:
            text = f"先剔除总分极差最大的专家 {self.dropped_expert} 的全部评分，再" + text
        return text


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


def _trim_totals(totals: Mapping[str, Decimal], order: Sequence[str]) -> tuple[str, str]:
    """The experts with the lowest and the highest total (ties: first / last in order)."""
    ranked = sorted(order, key=lambda e: (totals[e], order.index(e)))
    return ranked[0], ranked[-1]


def aggregate(
    scores: Reintegrated,
    package: BidPackage,
    *,
    rule: AggregationRule | None = None,
    places: int | None = None,
    drop_expert: str | None = None,
    trim_basis: TrimBasis | None = None,
    trim_above: int | None = None,
) -> Aggregation:
    """Aggregate per the package's evaluation method (or the given overrides; ``places``
    overrides the places of both parts)."""
    method = package.method
    rule = rule or method.aggregation
    basis = trim_basis or method.trim_basis
    threshold = method.trim_above if trim_above is None else trim_above
    tech_places = places or method.technical_rounding
    com_places = places or method.commercial_rounding
    experts = scores.expert_ids
    if not experts:
        raise AggregationError("no score sheets to aggregate")
    if threshold < 2:
        raise AggregationError(
            f"trimming from more than {threshold} experts could leave no score; the threshold "
            f"must be at least 2"
        )
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
    trim = rule is not AggregationRule.MEAN and len(kept) > threshold
    by_items = trim and basis is TrimBasis.ITEMS

    def item_score(part: str, bidder: str, item: str, who: Sequence[str]) -> Decimal:
        values = [scores.score(e, part, bidder, item) for e in who]
        return trimmed_mean(values) if by_items else mean(values)

    results: dict[str, BidderScore] = {}
    for b in package.bidder_ids:
        scorers = {"technical": kept, "commercial": kept}
        left_out: dict[str, tuple[str, ...]] = {}
        if trim and basis is TrimBasis.TOTALS:
            for index, part in enumerate(("technical", "commercial")):
                lowest, highest = _trim_totals({e: per_expert[b][e][index] for e in kept}, kept)
                left_out[part] = (lowest, highest)
                scorers[part] = tuple(e for e in kept if e not in (lowest, highest))
        items: dict[tuple[str, str], Decimal] = {}
        chapters: dict[str, Decimal] = {}
        for c in package.chapters:
            for i in c.items:
                items[c.id, i.id] = item_score(c.id, b, i.id, scorers["technical"])
            chapters[c.id] = sum((items[c.id, i.id] for i in c.items), Decimal(0))
        for i in package.commercial_items:
            items[COMMERCIAL_PART, i.id] = item_score(
                COMMERCIAL_PART, b, i.id, scorers["commercial"]
            )
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
            quantize(technical, tech_places),
            quantize(commercial, com_places),
            per_expert[b],
            left_out,
        )
    return Aggregation(
        rule,
        places or method.rounding_places,
        experts,
        kept,
        dropped,
        spreads,
        results,
        trim,
        basis,
        threshold,
        tech_places,
        com_places,
    )
