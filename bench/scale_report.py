"""``bench/scale.py``'s printout: one row per process per window, the bare-Janus baseline, and
a summary with the command, the machine and the date."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Window", "baseline_row", "machine", "summary", "window_rows"]


@dataclass
class Window:
    name: str
    seconds: float
    cpu: dict[str, float]  # row -> cores busy
    fps: list[float]  # per viewer
    result: Any  # the seat workers' answers to ``saves`` (media + saves only)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"machine: nproc {len(os.sched_getaffinity(0))}, {model}, Python "
        f"{platform.python_version()}, load average {load} at the start"
    )


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def fps_text(fps: list[float]) -> str:
    if not fps:
        return "no viewers"
    return f"fps per viewer mean {statistics.fmean(fps):.1f}, worst {min(fps):.1f} ({len(fps)})"


def window_rows(window: Window) -> None:
    print(f"--- hubs, {window.name}: {window.seconds:.1f} s")
    print(f"{'process':12} {'CPU % of a core':>16}")
    for row, cores in window.cpu.items():
        print(f"{row:12} {cores * 100:15.1f}%")
    total = sum(v for k, v in window.cpu.items() if k != "bench")
    print(f"{'all':12} {total * 100:15.1f}%  (the bench's own process excluded)")
    print(fps_text(window.fps))
    if window.result:
        saves = saved(window.result)
        print(
            f"saves: {saves['sent']} sent, {len(saves['latencies'])} acknowledged, "
            f"{saves['unanswered']} unanswered; latency p50 {saves['p50']:.1f} ms, "
            f"p99 {saves['p99']:.1f} ms, max {saves['max']:.1f} ms; "
            f"{saves['disconnects']} seat disconnects"
        )
    print(flush=True)


def saved(result: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [x * 1000 for r in result for x in r["latencies"]]
    return {
        "sent": sum(r["sent"] for r in result),
        "latencies": latencies,
        "unanswered": sum(r["unanswered"] for r in result),
        "disconnects": sum(r["disconnects"] for r in result),
        "p50": quantile(latencies, 0.5),
        "p99": quantile(latencies, 0.99),
        "max": max(latencies, default=float("nan")),
    }


def baseline_row(window: Window) -> None:
    print(
        f"--- bare Janus (baseline, bench/media.py janus mode): Janus "
        f"{window.cpu['janus'] * 100:.1f}% of a core; {fps_text(window.fps)}\n",
        flush=True,
    )


def summary(
    args: argparse.Namespace,
    command: str,
    header: str,
    bare: list[Window],
    windows: list[Window],
    failure: str | None,
) -> None:
    print("=== summary")
    print(command)
    print(
        f"{header}; ended {datetime.now(UTC):%H:%M} UTC, load average "
        + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    print(
        f"size: {args.seat_links} seat links, {args.publishers} publishers × "
        f"{args.viewers_per_seat} viewers = {args.publishers * args.viewers_per_seat} "
        f"viewer-streams, {args.rate:g} saves/s in the second window, {args.duration:g} s windows"
    )
    for window in bare:
        print(
            f"bare Janus:          Janus {window.cpu['janus'] * 100:6.1f}%  {fps_text(window.fps)}"
        )
    for window in windows:
        hubs = sum(v for k, v in window.cpu.items() if k.startswith("hub"))
        line = (
            f"{window.name + ':':20} Janus {window.cpu.get('janus', 0) * 100:6.1f}%  hubs "
            f"{hubs * 100:6.1f}% ("
            + ", ".join(
                f"{window.cpu[k] * 100:.1f}" for k in sorted(window.cpu) if k.startswith("hub")
            )
            + f")  nginx {window.cpu.get('nginx', 0) * 100:.1f}%  "
            f"{fps_text(window.fps)}"
        )
        if window.result:
            saves = saved(window.result)
            line += f"; save p99 {saves['p99']:.1f} ms (p50 {saves['p50']:.1f})"
        print(line)
    if failure:
        print(f"FAILED at this size: {failure}")
