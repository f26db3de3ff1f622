"""Seat allocation: nearest policy against brute force, infeasibility messages, the random draw."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation_hub.booking.allocation import (
    AwayExpert,
    CandidateSeat,
    DrawInputs,
    Region,
    RegionDistances,
    commitment,
    draw,
    propose_nearest,
    verify_draw,
)
from evaluation_hub.booking.allocation.draw import _DrawStream
from evaluation_hub.booking.regions import YUNNAN_REGIONS_FILE, load_distances, load_regions
from evaluation_hub.errors import AllocationError, ConfigError

DIST = load_distances()
KUNMING, DALI, LIJIANG, BAOSHAN, XSBN, DIQING = (
    "530100",
    "532900",
    "530700",
    "530500",
    "532800",
    "533400",
)
CAM = frozenset({"camera", "microphone"})
VENUE_REGION = {1: KUNMING, 2: DALI, 3: LIJIANG, 4: BAOSHAN}
VENUE_NAME = {
    1: "昆明市公共资源交易中心",
    2: "大理州公共资源交易中心",
    3: "丽江市公共资源交易中心",
    4: "保山市公共资源交易中心",
}


def seat(
    seat_id: int,
    venue_id: int,
    *,
    caps: frozenset[str] = CAM,
    available: bool = True,
    label: str | None = None,
) -> CandidateSeat:
    return CandidateSeat(
        seat_id,
        label or f"{seat_id % 100}号工位",
        venue_id,
        VENUE_NAME[venue_id],
        VENUE_REGION[venue_id],
        caps,
        available,
    )


def expert(expert_id: int, home: str, employer: str) -> AwayExpert:
    return AwayExpert(expert_id, f"E{expert_id:02d}", home, employer)


def seed(i: int) -> bytes:
    return hashlib.sha256(f"test seed {i}".encode()).digest()


# --- regions ---------------------------------------------------------------------------------


def test_yunnan_table_has_the_16_prefecture_level_divisions() -> None:
    regions = load_regions()
    assert {r.code: r.name for r in regions} == {
        "530100": "昆明市",
        "530300": "曲靖市",
        "530400": "玉溪市",
        "530500": "保山市",
        "530600": "昭通市",
        "530700": "丽江市",
        "530800": "普洱市",
        "530900": "临沧市",
        "532300": "楚雄州",
        "532500": "红河州",
        "532600": "文山州",
        "532800": "西双版纳州",
        "532900": "大理州",
        "533100": "德宏州",
        "533300": "怒江州",
        "533400": "迪庆州",
    }
    for r in regions:  # all inside Yunnan's bounding box
        assert 21 < r.latitude < 29.5 and 97.5 < r.longitude < 106.5


def test_distances_are_symmetric_whole_km_and_plausible() -> None:
    assert DIST.km(DALI, LIJIANG) == DIST.km(LIJIANG, DALI) == 139
    assert DIST.km(KUNMING, KUNMING) == 0
    assert 250 < DIST.km(KUNMING, DALI) < 290
    for a, b in itertools.combinations(DIST.codes, 2):
        assert 0 < DIST.km(a, b) < 900


def test_overrides_replace_the_computed_distance_both_ways() -> None:
    d = RegionDistances(load_regions(), {(DALI, LIJIANG): 182.4})
    assert d.km(LIJIANG, DALI) == d.km(DALI, LIJIANG) == 182
    assert d.km(DALI, KUNMING) == DIST.km(DALI, KUNMING)


def test_unknown_region_is_named() -> None:
    with pytest.raises(AllocationError) as info:
        DIST.km(KUNMING, "530199")
    assert str(info.value) == (
        "未知地区代码 530199：距离表中没有该地区，请更正地区代码或在地区配置中补充该地区"
    )
    with pytest.raises(AllocationError, match="未知地区代码 999999"):
        RegionDistances([Region(KUNMING, "昆明市", 24.9, 102.8)], {(KUNMING, "999999"): 5})


def test_bad_region_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("regions:\n  - {code: 530100, name: 昆明市, latitude: 24.9, longitude: 102.8}\n")
    with pytest.raises(ConfigError) as info:
        load_regions(bad)
    assert str(info.value) == (
        f"region table {bad}: regions[0] code 530100 is not a 6-digit string "
        f'(quote it in YAML, for example code: "530100")'
    )
    assert YUNNAN_REGIONS_FILE.is_file()


# --- nearest: properties against brute force -------------------------------------------------

REGION_POOL = [KUNMING, DALI, LIJIANG, BAOSHAN, XSBN, DIQING]
SEAT_CAPABILITIES = [
    frozenset({"camera"}),
    frozenset({"camera", "dual_screen"}),
    frozenset({"camera"}),
    frozenset(),
]


def _valid(
    pairs: Sequence[tuple[AwayExpert, CandidateSeat]],
    host: int,
    required: frozenset[str],
    k: int,
    caps: dict[int, int],
) -> bool:
    seats = [s for _, s in pairs]
    if len({s.seat_id for s in seats}) != len(seats):
        return False
    if any(s.venue_id == host or not s.available or not required <= s.capabilities for s in seats):
        return False
    per_venue = Counter(s.venue_id for s in seats)
    if any(n > caps.get(v, n) for v, n in per_venue.items()):
        return False
    return all(n <= k for n in Counter((e.employer, s.venue_id) for e, s in pairs).values())


def _brute_force(
    experts: list[AwayExpert],
    seats: list[CandidateSeat],
    host: int,
    required: frozenset[str],
    k: int,
    caps: dict[int, int],
) -> int | None:
    best = None
    for chosen in itertools.permutations(seats, len(experts)):
        pairs = list(zip(experts, chosen, strict=True))
        if _valid(pairs, host, required, k, caps):
            total = sum(DIST.km(e.home_region, s.region) for e, s in pairs)
            best = total if best is None else min(best, total)
    return best


@st.composite
def allocation_cases(
    draw_: st.DrawFn,
) -> tuple[list[AwayExpert], list[CandidateSeat], int, frozenset[str], int, dict[int, int]]:
    n_venues = draw_(st.integers(2, 4))
    regions = [draw_(st.sampled_from(REGION_POOL)) for _ in range(n_venues)]
    seats = [
        CandidateSeat(
            seat_id=draw_(st.integers(0, 10_000)) * 10 + i,
            label=f"{i + 1}号工位",
            venue_id=(v := draw_(st.integers(1, n_venues))),
            venue_name=f"场地{v}",
            region=regions[v - 1],
            capabilities=draw_(st.sampled_from(SEAT_CAPABILITIES)),
            available=draw_(st.integers(0, 5)) > 0,
        )
        for i in range(draw_(st.sampled_from([0, 3, 5, 6, 7, 7])))
    ]
    experts = [
        AwayExpert(
            draw_(st.integers(0, 10_000)) * 10 + i,
            f"E{i}",
            draw_(st.sampled_from(REGION_POOL)),
            draw_(st.sampled_from("ABC")),
        )
        for i in range(draw_(st.sampled_from([1, 2, 3, 3, 4, 4])))
    ]
    host = draw_(st.integers(1, n_venues + 1))
    required = frozenset(draw_(st.sets(st.just("camera"))))
    k = draw_(st.integers(1, 2))
    caps = draw_(st.dictionaries(st.integers(1, n_venues), st.integers(0, 3), max_size=1))
    return experts, seats, host, required, k, caps


@settings(max_examples=150, deadline=None)
@given(allocation_cases())
def test_nearest_matches_brute_force_optimum(
    case: tuple[list[AwayExpert], list[CandidateSeat], int, frozenset[str], int, dict[int, int]],
) -> None:
    experts, seats, host, required, k, caps = case
    best = _brute_force(experts, seats, host, required, k, caps)
    kwargs = {
        "host_venue_id": host,
        "distances": DIST,
        "required_capabilities": required,
        "max_per_employer_per_venue": k,
        "venue_caps": caps,
    }
    if best is None:
        with pytest.raises(AllocationError):
            propose_nearest(experts, seats, **kwargs)  # type: ignore[arg-type]
        return
    proposal = propose_nearest(experts, seats, **kwargs)  # type: ignore[arg-type]
    by_id = {s.seat_id: s for s in seats}
    experts_by_id = {e.expert_id: e for e in experts}
    pairs = [(experts_by_id[a.expert_id], by_id[a.seat_id]) for a in proposal.assignments]
    assert sorted(e.expert_id for e, _ in pairs) == sorted(experts_by_id)
    assert _valid(pairs, host, required, k, caps)
    assert proposal.total_distance_km == best
    assert sum(a.distance_km or 0 for a in proposal.assignments) == best
    # the general binary program agrees with the assignment algorithm, and input order is moot
    forced = propose_nearest(experts, seats, solver="milp", **kwargs)  # type: ignore[arg-type]
    assert forced.total_distance_km == best
    shuffled = propose_nearest(experts[::-1], seats[::-1], **kwargs)  # type: ignore[arg-type]
    assert shuffled == proposal


# --- nearest: examples -----------------------------------------------------------------------


def test_reason_line_and_spread_of_one_employer() -> None:
    seats = [seat(201, 2), seat(202, 2), seat(301, 3), seat(302, 3)]
    experts = [expert(7, DALI, "云南建工"), expert(8, DALI, "云南建工"), expert(9, DIQING, "个人")]
    proposal = propose_nearest(experts, seats, host_venue_id=1, distances=DIST)
    assert proposal.solver == "milp"
    assert [(a.expert_code, a.seat_id) for a in proposal.assignments] == [
        ("E07", 201),
        ("E08", 301),
        ("E09", 302),
    ]
    assert [a.reason for a in proposal.assignments] == [
        "专家 E07 所在地 大理州，分配至 大理州公共资源交易中心 1号工位，距离 0 km；"
        "同单位专家已分散（每个场地至多 1 名）",
        "专家 E08 所在地 大理州，分配至 丽江市公共资源交易中心 1号工位，距离 139 km；"
        "同单位专家已分散（每个场地至多 1 名）",
        "专家 E09 所在地 迪庆州，分配至 丽江市公共资源交易中心 2号工位，距离 120 km；无同单位专家",
    ]
    assert proposal.total_distance_km == 0 + 139 + 120


def test_host_venue_is_never_used_even_when_nearest() -> None:
    seats = [seat(101, 1), seat(102, 1), seat(401, 4), seat(402, 4)]
    experts = [expert(1, KUNMING, "A"), expert(2, KUNMING, "B")]
    proposal = propose_nearest(experts, seats, host_venue_id=1, distances=DIST)
    assert {a.venue_id for a in proposal.assignments} == {4}


def test_capability_filter_skips_nearer_seats_without_the_equipment() -> None:
    seats = [seat(201, 2, caps=frozenset({"camera"})), seat(401, 4)]
    proposal = propose_nearest(
        [expert(1, DALI, "A")], seats, host_venue_id=1, distances=DIST, required_capabilities=CAM
    )
    assert [a.seat_id for a in proposal.assignments] == [401]
    relaxed = propose_nearest([expert(1, DALI, "A")], seats, host_venue_id=1, distances=DIST)
    assert [a.seat_id for a in relaxed.assignments] == [201]


def test_venue_cap_limits_how_many_seats_of_a_venue_are_used() -> None:
    seats = [seat(201, 2), seat(202, 2), seat(203, 2), seat(301, 3), seat(302, 3)]
    experts = [expert(i, DALI, f"U{i}") for i in range(1, 4)]
    capped = propose_nearest(experts, seats, host_venue_id=1, distances=DIST, venue_caps={2: 1})
    assert Counter(a.venue_id for a in capped.assignments) == {2: 1, 3: 2}
    assert capped.solver == "linear_sum_assignment"


def test_same_input_in_any_order_gives_the_same_proposal() -> None:
    seats = [seat(i, v) for v in (2, 3, 4) for i in range(v * 100, v * 100 + 4)]
    experts = [expert(i, REGION_POOL[i % 6], "AB"[i % 2]) for i in range(1, 8)]
    kwargs = {"host_venue_id": 1, "distances": DIST, "max_per_employer_per_venue": 2}
    first = propose_nearest(experts, seats, **kwargs)  # type: ignore[arg-type]
    for n in range(5):
        order = sorted(seats, key=lambda s: hashlib.sha256(f"{n}{s.seat_id}".encode()).digest())
        again = propose_nearest(reversed(experts), order, **kwargs)  # type: ignore[arg-type]
        assert again == first


def test_no_experts_is_an_empty_proposal() -> None:
    proposal = propose_nearest([], [], host_venue_id=1, distances=DIST)
    assert (proposal.assignments, proposal.total_distance_km, proposal.solver) == ((), 0, "none")


# --- nearest: infeasible inputs --------------------------------------------------------------


def test_not_enough_seats_names_every_cause() -> None:
    seats = [
        seat(101, 1),
        seat(102, 1),
        seat(201, 2),
        seat(202, 2, available=False),
        seat(301, 3, caps=frozenset({"camera"})),
    ]
    experts = [expert(i, DALI, f"U{i}") for i in range(1, 4)]
    with pytest.raises(AllocationError) as info:
        propose_nearest(experts, seats, host_venue_id=1, distances=DIST, required_capabilities=CAM)
    assert str(info.value) == (
        "可用工位不足：3 名专家需要 3 个客场工位，"
        "具备能力 camera、microphone 且可用的非主场工位只有 1 个"
    )
    assert info.value.reasons == [
        "需要 3 个客场工位，具备能力 camera、microphone 且可用的只有 1 个",
        "2 个工位在主场场地，不能分配给客场专家",
        "1 个客场工位不可用（状态异常、未共享到目录或该时段已被预约）",
        "1 个客场工位缺少能力 microphone",
    ]


def test_venue_cap_shortfall_is_named() -> None:
    seats = [seat(201, 2), seat(202, 2)]
    with pytest.raises(AllocationError) as info:
        propose_nearest(
            [expert(1, DALI, "A"), expert(2, DALI, "B")],
            seats,
            host_venue_id=1,
            distances=DIST,
            venue_caps={2: 1},
        )
    assert str(info.value) == (
        "可用工位不足：2 名专家需要 2 个客场工位，"
        "具备能力 （无特殊要求） 且可用的非主场工位只有 1 个"
    )
    assert (
        info.value.reasons[-1]
        == "场地 大理州公共资源交易中心 有 2 个符合条件的工位，但容量上限为 1 个"
    )


def test_employer_needing_more_venues_than_exist() -> None:
    seats = [seat(i, v) for v in (2, 3) for i in range(v * 100, v * 100 + 5)]
    experts = [expert(1, DALI, "A"), expert(2, DALI, "A"), expert(3, DALI, "A")]
    with pytest.raises(AllocationError) as info:
        propose_nearest(experts, seats, host_venue_id=1, distances=DIST)
    assert str(info.value) == (
        "无法分散同单位专家：单位 A 有 3 名专家，每个场地至多 1 名，"
        "需要至少 3 个客场场地，但只有 2 个场地有可用工位"
    )
    ok = propose_nearest(
        experts, seats, host_venue_id=1, distances=DIST, max_per_employer_per_venue=2
    )
    assert Counter(a.venue_id for a in ok.assignments) == {2: 2, 3: 1}


def test_employers_competing_for_too_few_venues() -> None:
    # Every count check passes (4 seats, each employer needs 2 of 2 venues), but venue 3 has one
    # seat, so venue 2 must take three experts of two employers: impossible at one per employer.
    seats = [seat(201, 2), seat(202, 2), seat(203, 2), seat(301, 3)]
    experts = [
        expert(1, DALI, "A"),
        expert(2, DALI, "A"),
        expert(3, DALI, "B"),
        expert(4, DALI, "B"),
    ]
    with pytest.raises(AllocationError) as info:
        propose_nearest(experts, seats, host_venue_id=1, distances=DIST)
    assert str(info.value) == (
        "在每个场地同单位专家至多 1 名的限制下，2 个场地的 4 个工位无法容纳全部 4 名专家，"
        "请增加场地或放宽同单位上限"
    )
    assert info.value.reasons == [
        "场地 大理州公共资源交易中心 可用 3 个工位",
        "场地 丽江市公共资源交易中心 可用 1 个工位",
    ]


def test_unknown_home_region_is_named() -> None:
    with pytest.raises(AllocationError, match=r"^未知地区代码 530199："):
        propose_nearest([expert(1, "530199", "A")], [seat(201, 2)], host_venue_id=1, distances=DIST)


def test_malformed_inputs_are_refused() -> None:
    with pytest.raises(AllocationError) as info:
        propose_nearest(
            [expert(1, DALI, "A"), expert(1, DALI, "B")], [], host_venue_id=1, distances=DIST
        )
    assert str(info.value) == "专家编号重复：1"
    clash = CandidateSeat(202, "2号", 2, "别的名字", DALI, CAM, True)
    with pytest.raises(AllocationError) as info:
        propose_nearest([], [seat(201, 2), clash], host_venue_id=1, distances=DIST)
    assert str(info.value) == (
        "场地 2 的工位给出了不一致的场地名称或地区："
        "大理州公共资源交易中心（532900）与 别的名字（532900）"
    )
    with pytest.raises(AllocationError) as info:
        propose_nearest([], [], host_venue_id=1, distances=DIST, max_per_employer_per_venue=0)
    assert str(info.value) == "每个场地同单位专家上限必须至少为 1，收到 0"


# --- random draw -----------------------------------------------------------------------------

DRAW_SEATS = [seat(i, v) for v in (1, 2, 3, 4) for i in range(v * 100, v * 100 + 3)]
DRAW_EXPERTS = [expert(i, DALI, "AAB"[i % 3]) for i in range(1, 6)]


def test_draw_is_re_derived_from_the_revealed_seed() -> None:
    result = draw(seed(1), DRAW_EXPERTS, DRAW_SEATS, 1, max_per_employer_per_venue=2)
    inputs = DrawInputs.of(DRAW_EXPERTS[::-1], DRAW_SEATS[::-1], 1, max_per_employer_per_venue=2)
    assert result.inputs == inputs
    assert result.commitment == commitment(seed(1), inputs)
    assert verify_draw(seed(1), result.commitment, inputs) == result


def test_fixed_seed_gives_a_fixed_draw() -> None:
    # A published draw must stay verifiable: changing the algorithm breaks this on purpose.
    result = draw(seed(1), DRAW_EXPERTS, DRAW_SEATS, 1, max_per_employer_per_venue=2)
    assert result.commitment == GOLDEN_COMMITMENT
    assert result.venue_ids == GOLDEN_VENUES
    assert [(a.expert_id, a.seat_id) for a in result.assignments] == GOLDEN_SEATS
    assert result.assignments[0].reason == GOLDEN_REASON


GOLDEN_COMMITMENT = "e7f023961c82017ad8d223eabc8aa558f670ec2500e46fccb51461190528ef36"
GOLDEN_VENUES = (2, 4)
GOLDEN_SEATS = [(1, 400), (2, 201), (3, 202), (4, 200), (5, 402)]
GOLDEN_REASON = "专家 E01 经随机抽取分配至 保山市公共资源交易中心 0号工位；同单位专家已分散（每个场地至多 2 名）"


def test_tampered_seed_or_inputs_are_rejected() -> None:
    result = draw(seed(1), DRAW_EXPERTS, DRAW_SEATS, 1, max_per_employer_per_venue=2)
    with pytest.raises(AllocationError) as info:
        verify_draw(seed(2), result.commitment, result.inputs)
    assert str(info.value) == "抽取验证失败：公开的种子或抽取输入与事先公布的承诺值不符"
    assert info.value.reasons[0] == f"事先公布的承诺值 {result.commitment}"
    tampered_seats = [seat(100, 1, available=False), *DRAW_SEATS[1:]]
    tampered = DrawInputs.of(DRAW_EXPERTS, tampered_seats, 1, max_per_employer_per_venue=2)
    with pytest.raises(AllocationError, match=r"^抽取验证失败"):
        verify_draw(seed(1), result.commitment, tampered)
    with pytest.raises(AllocationError, match=r"^抽取验证失败"):
        verify_draw(seed(1), result.commitment.replace(result.commitment[0], "x"), result.inputs)


def test_commitment_binds_seed_and_inputs_with_domain_separation() -> None:
    inputs = DrawInputs.of(DRAW_EXPERTS, DRAW_SEATS, 1)
    other = DrawInputs.of(DRAW_EXPERTS, DRAW_SEATS, 2)
    values = {commitment(seed(1), inputs), commitment(seed(2), inputs), commitment(seed(1), other)}
    assert len(values) == 3
    assert commitment(seed(1), inputs) != hashlib.sha256(seed(1) + inputs.canonical()).hexdigest()
    with pytest.raises(AllocationError) as info:
        commitment(b"short", inputs)
    assert str(info.value) == "抽取种子至少需要 32 字节的随机数，收到 5 字节"


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.integers(1, 3), st.integers(1, 2))
def test_draw_respects_every_constraint(raw_seed: bytes, min_venues: int, k: int) -> None:
    seats = [*DRAW_SEATS, seat(499, 4, available=False), seat(498, 4, caps=frozenset())]
    result = draw(
        raw_seed,
        DRAW_EXPERTS,
        seats,
        1,
        required_capabilities=CAM,
        max_per_employer_per_venue=k,
        venue_caps={3: 2},
        min_venues=min_venues,
    )
    by_id = {s.seat_id: s for s in seats}
    pairs = [(e, by_id[a.seat_id]) for e, a in zip(DRAW_EXPERTS, result.assignments, strict=True)]
    assert [a.expert_id for a in result.assignments] == [e.expert_id for e in DRAW_EXPERTS]
    assert _valid(pairs, 1, CAM, k, {3: 2})
    assert {s.venue_id for _, s in pairs} <= set(result.venue_ids)
    assert len(result.venue_ids) >= min_venues
    assert 1 not in result.venue_ids


def test_draw_refuses_what_cannot_be_drawn() -> None:
    with pytest.raises(AllocationError) as info:
        draw(seed(1), DRAW_EXPERTS, DRAW_SEATS, 1, min_venues=4)
    assert str(info.value) == "要求至少抽取 4 个客场场地，但只有 3 个场地有可用工位"
    with pytest.raises(AllocationError, match=r"^无法分散同单位专家"):
        draw(seed(1), [expert(i, DALI, "A") for i in range(4)], DRAW_SEATS, 1)


def _chi_square(counts: Counter[int], categories: Sequence[int], total: int) -> float:
    expected = total / len(categories)
    return sum((counts[c] - expected) ** 2 / expected for c in categories)


# 99.9th percentiles of the chi-square distribution, by degrees of freedom
CHI2_999 = {2: 13.82, 5: 20.52, 8: 26.12, 11: 31.26}


def test_draw_picks_venues_and_seats_uniformly() -> None:
    venue_counts: Counter[int] = Counter()
    seat_counts: Counter[int] = Counter()
    rounds = 1200
    for i in range(rounds):
        result = draw(seed(i), [expert(1, DALI, "A")], DRAW_SEATS, 1)
        venue_counts[result.venue_ids[0]] += 1
        seat_counts[result.assignments[0].seat_id] += 1
    assert _chi_square(venue_counts, [2, 3, 4], rounds) < CHI2_999[2]
    away = [s.seat_id for s in DRAW_SEATS if s.venue_id != 1]
    assert set(seat_counts) == set(away)
    assert _chi_square(seat_counts, away, rounds) < CHI2_999[8]


def test_draw_places_experts_uniformly_among_seats() -> None:
    seats = [seat(201, 2), seat(202, 2), seat(203, 2)]
    experts = [expert(1, DALI, "A"), expert(2, DALI, "B")]
    outcomes: Counter[int] = Counter()
    placements = list(itertools.permutations([201, 202, 203], 2))
    rounds = 1200
    for i in range(rounds):
        result = draw(seed(i), experts, seats, 1)
        first, second = (a.seat_id for a in result.assignments)
        outcomes[placements.index((first, second))] += 1
    assert _chi_square(outcomes, list(range(6)), rounds) < CHI2_999[5]


def test_stream_integers_are_unbiased() -> None:
    stream = _DrawStream(seed(0), DrawInputs.of([], [], 1))
    rounds = 6000
    counts = Counter(stream.randbelow(12) for _ in range(rounds))
    assert _chi_square(counts, list(range(12)), rounds) < CHI2_999[11]
