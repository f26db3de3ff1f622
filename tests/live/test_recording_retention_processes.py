"""Recording retention with several hub processes. The rule: each process prunes the directory
it records into, on its own timer, with no lease. Where each process has a directory of its own
(the compose stack: a state volume per hub), that is the only way every directory is pruned (a
lease would leave all but one process's recordings growing); where they share one (the
three-hub test), the processes prune the same files by the same rule (modification time,
``.part`` never), so running it more than once deletes nothing more, and a process that finds a
file already deleted by another neither fails nor counts it as its own deletion."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from evaluation_hub.live.recording import RecordingPolicy, SeatRecordings

NOW = 1_800_000_000.0
KEEP = 2 * 86400.0


def _touch(path: Path, mtime: float) -> Path:
    path.write_bytes(b"segment")
    os.utime(path, (mtime, mtime))
    return path


def _process(root: Path) -> SeatRecordings:
    return SeatRecordings(RecordingPolicy(root, keep_seconds=KEEP), wall_clock=lambda: NOW)


async def test_each_process_prunes_the_directory_it_records_into(tmp_path: Path) -> None:
    one, two = tmp_path / "recordings-one", tmp_path / "recordings-two"
    old = {}
    for root in (one, two):
        (root / "DL.DL-01").mkdir(parents=True)
        old[root] = _touch(root / "DL.DL-01" / "20260101T000000Z-0-00000.webm", NOW - 3 * 86400)
    assert _process(one).prune_once() == [old[one]]
    assert old[two].exists()  # not the first process's to prune
    assert _process(two).prune_once() == [old[two]]


async def test_processes_sharing_a_directory_prune_each_file_once(tmp_path: Path) -> None:
    root = tmp_path / "recordings"
    expired: set[Path] = set()
    kept: set[Path] = set()
    for seat in range(20):
        directory = root / f"DL.DL-{seat:02d}"
        directory.mkdir(parents=True)
        for n in range(100):
            name = f"20260101T000000Z-0-{n:05d}.webm"
            if n % 10 == 9:
                kept.add(_touch(directory / name, NOW - 3600))
                kept.add(_touch(directory / f"{name}.part", NOW - 9 * 86400))
            else:
                expired.add(_touch(directory / name, NOW - 3 * 86400))
    processes = [_process(root) for _ in range(3)]
    # At the same moment, as three processes' timers may fire.
    deleted = await asyncio.gather(*(asyncio.to_thread(p.prune_once) for p in processes))
    assert sorted(p for each in deleted for p in each) == sorted(expired)  # each file once
    assert all(path.exists() for path in kept)
    assert not any(path.exists() for path in expired)
    assert [p.prune_once() for p in processes] == [[], [], []]
