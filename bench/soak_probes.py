"""The soak's memory probes (``bench/soak.py --probe-every``): what the hub's memory is made of,
measured from inside the hub process by ``bench/soak_probe/sitecustomize.py`` (loaded through
the hub's PYTHONPATH, never part of the product), read and compared here.

A probe is taken between two evaluations (SIGUSR2 to the hub, then wait for its json): the
collector's objects counted by type (those created since start-up: the hub freezes its
start-up heap, ``gc.freeze()``, and frozen objects are not listed), VmRSS, and on request the
``tracemalloc`` traced total and snapshot (tracing starts at the first probe), and VmRSS after
``malloc_trim(0)``. The summary compares the first probe (after warm-up) with the last: the
types whose count grew, and the allocations that grew by traceback, with sizes and counts.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE_DIR = Path(__file__).resolve().parent / "soak_probe"
# Frames of a traceback printed for each growing allocation: the innermost ones in this
# repository, then the first outer frame in it (where the growth is decided).
_SHOWN = 6
_LIB = re.compile(r".*/lib/python3\.\d+/(site-packages/)?")


@dataclass(frozen=True)
class ProbeSettings:
    out: Path
    frames: int  # tracemalloc frames per traceback; 0: no tracing
    trim: bool  # measure what malloc_trim(0) gives back (changes the RSS curve from then on)

    def env(self) -> dict[str, str]:
        """The hub's environment additions that load and configure the probe."""
        path = os.environ.get("PYTHONPATH")
        return {
            "PYTHONPATH": str(PROBE_DIR) + (os.pathsep + path if path else ""),
            "SOAK_PROBE_DIR": str(self.out),
            "SOAK_PROBE_FRAMES": str(self.frames),
            "SOAK_PROBE_TRIM": "1" if self.trim else "0",
        }


@dataclass(frozen=True)
class Probe:
    evaluations: int
    facts: dict[str, Any]

    @property
    def snapshot(self) -> Path:
        return self.path.with_name(f"snapshot-{self.facts['n']}.pickle")

    path: Path


async def take(
    pid: int, out: Path, n: int, evaluations: int, *, trim: bool = False, limit: float = 300.0
) -> Probe:
    """Ask the hub for its ``n``-th probe and wait until it is written; ``trim``: measure
    what ``malloc_trim(0)`` gives back in this one."""
    path = out / f"probe-{n}.json"
    if trim:
        (out / f"trim-{n}").touch()
    os.kill(pid, signal.SIGUSR2)
    deadline = time.monotonic() + limit
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the hub wrote no {path.name} within {limit:g} s")
        await asyncio.sleep(0.2)
    return Probe(evaluations, json.loads(path.read_text()), path)


def summary(probes: list[Probe], top: int = 15) -> list[str]:
    """The probes' table and what grew between the first and the last (markdown lines)."""
    if not probes:
        return []
    lines = ["", "memory probes (taken between evaluations, after gc.collect()):", ""]
    head = "| evaluations | hub RSS (MB) | gc objects | traced (MB) | RSS after malloc_trim (MB) |"
    lines += [head, "|---:|---:|---:|---:|---:|"]
    for p in probes:
        f = p.facts
        traced = f"{f['traced_bytes'] / 2**20:.1f}" if "traced_bytes" in f else "–"
        trimmed = f"{f['rss_kb_after_trim'] / 1024:.1f}" if "rss_kb_after_trim" in f else "–"
        lines.append(
            f"| {p.evaluations} | {f['rss_kb'] / 1024:.1f} | {f['gc_objects']} | {traced} "
            f"| {trimmed} |"
        )
    first, last = probes[0], probes[-1]
    if first is last:
        return lines
    runs = last.evaluations - first.evaluations
    lines += [
        "",
        f"object types whose count grew from probe 1 to {len(probes)} ({runs} evaluations):",
    ]
    lines += ["", "| type | first | last | per evaluation |", "|---|---:|---:|---:|"]
    before, after = first.facts["types"], last.facts["types"]
    grown = sorted(
        ((after[t] - before.get(t, 0), t) for t in after if after[t] > before.get(t, 0)),
        reverse=True,
    )
    for diff, name in grown[:top]:
        lines.append(f"| {name} | {before.get(name, 0)} | {after[name]} | {diff / runs:+.1f} |")
    traced = [p for p in probes if p.snapshot.exists()]
    if len(traced) >= 2:
        lines += _traced_growth(traced[0], traced[-1], top)
    return lines


def _traced_growth(first: Probe, last: Probe, top: int) -> list[str]:
    """What grew between two snapshots (tracing started at the probe before ``first``)."""
    runs = last.evaluations - first.evaluations
    old = tracemalloc.Snapshot.load(str(first.snapshot))
    new = tracemalloc.Snapshot.load(str(last.snapshot))
    total = sum(s.size_diff for s in new.compare_to(old, "filename"))
    lines = [
        "",
        f"traced allocations, from the snapshot after evaluation {first.evaluations} to the "
        f"one after {last.evaluations}: {total / 2**20:+.2f} MB ({total / runs / 1024:+.1f} KB "
        "per evaluation); by line:",
    ]
    lines += [
        "",
        "| file:line | growth (KB) | blocks | per evaluation (B) |",
        "|---|---:|---:|---:|",
    ]
    for stat in new.compare_to(old, "lineno")[:top]:
        frame = stat.traceback[0]
        lines.append(
            f"| {_short(frame.filename)}:{frame.lineno} | {stat.size_diff / 1024:+.1f} "
            f"| {stat.count_diff:+d} | {stat.size_diff / runs:+.0f} |"
        )
    lines += ["", "by traceback (innermost first):"]
    for stat in new.compare_to(old, "traceback")[:top]:
        lines.append(
            f"\n  {stat.size_diff / 1024:+.1f} KB, {stat.count_diff:+d} blocks "
            f"({stat.size / 1024:.1f} KB, {stat.count} blocks in all):"
        )
        frames = list(reversed(stat.traceback))  # innermost first
        ours = [f for f in frames if _is_ours(f.filename)]
        shown = frames[:2] + [f for f in ours if f not in frames[:2]][:_SHOWN]
        lines += [f"    {_short(f.filename)}:{f.lineno}" for f in shown]
    return lines


def _is_ours(filename: str) -> bool:
    return (
        any(
            f"/{package}/" in filename
            for package in ("evaluation_hub", "seat_protocol", "seat_agent", "media")
        )
        and "/site-packages/" not in filename
    )


def _short(filename: str) -> str:
    stdlib_or_installed = _LIB.match(filename)
    if stdlib_or_installed:
        return filename[stdlib_or_installed.end() :]
    root = str(Path(__file__).resolve().parent.parent) + "/"
    return filename.removeprefix(root)
