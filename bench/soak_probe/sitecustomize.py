"""The soak's memory probe, loaded into the hub process only by ``bench/soak.py --tracemalloc``
(which puts this directory first on the hub's PYTHONPATH, so Python imports this module at
start-up). Nothing of it is in the product: without ``SOAK_PROBE_DIR`` it does nothing.

With ``SOAK_PROBE_DIR`` set, on every SIGUSR2, after a full collection, the process writes
``<dir>/probe-<n>.json``: VmRSS, the count of every type among the collector's objects
(``gc.get_objects()``), and

* with ``SOAK_PROBE_FRAMES`` > 0: the first probe starts tracing allocations (``tracemalloc``,
  that many frames per traceback), every later one writes the traced total and a snapshot in
  ``<dir>/snapshot-<n>.pickle``. Tracing starts after warm-up, not at start-up, so a snapshot
  holds only what was allocated since and is still alive (the import-time heap would be a
  million traces, minutes to dump); the soak compares the first and the last snapshot by
  traceback: what grew, where it was allocated, size and count;
* with ``SOAK_PROBE_TRIM=1``, or when the file ``<dir>/trim-<n>`` exists: VmRSS again after
  ``malloc_trim(0)`` (what the C allocator held in free pages it could give back:
  fragmentation, not live objects). This changes the RSS curve from then on, so the soak asks
  for it only in its last probe unless told otherwise.

The json is written last (through a rename), so the soak waits for it to know the dump is done.
The variables are removed from the environment so that a child process traces nothing.
"""

from __future__ import annotations

import os

_DIR = os.environ.pop("SOAK_PROBE_DIR", None)
_FRAMES = int(os.environ.pop("SOAK_PROBE_FRAMES", "0"))
_TRIM = os.environ.pop("SOAK_PROBE_TRIM", "") == "1"

if _DIR:
    import ctypes
    import ctypes.util
    import gc
    import json
    import signal
    import time
    import tracemalloc
    from collections import Counter
    from pathlib import Path
    from types import FrameType

    _dumps = [0]
    out = Path(_DIR)

    def _rss_kb() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def _malloc_trim() -> bool:
        name = ctypes.util.find_library("c")
        if name is None:
            return False
        return bool(ctypes.CDLL(name).malloc_trim(0))

    def _dump(signum: int, frame: FrameType | None) -> None:
        began = time.monotonic()
        _dumps[0] += 1
        n = _dumps[0]
        gc.collect()
        counts = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
        facts: dict[str, object] = {"n": n, "rss_kb": _rss_kb(), "gc_objects": sum(counts.values())}
        if _FRAMES > 0 and not tracemalloc.is_tracing():
            tracemalloc.start(_FRAMES)
        elif tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                (tracemalloc.Filter(False, tracemalloc.__file__),)
            )
            snapshot.dump(str(out / f"snapshot-{n}.pickle"))
            facts["traced_bytes"] = tracemalloc.get_traced_memory()[0]
            facts["tracemalloc_overhead_bytes"] = tracemalloc.get_tracemalloc_memory()
        if _TRIM or (out / f"trim-{n}").exists():
            facts["malloc_trim_released"] = _malloc_trim()
            facts["rss_kb_after_trim"] = _rss_kb()
        facts["types"] = dict(counts.most_common())
        facts["dump_seconds"] = time.monotonic() - began
        tmp = out / f"probe-{n}.json.tmp"
        tmp.write_text(json.dumps(facts))
        tmp.rename(out / f"probe-{n}.json")

    signal.signal(signal.SIGUSR2, _dump)
