#!/bin/bash
# Before/after for bench/chapter_sync.py, interleaved: the code of REV (default: main) and of this
# working tree take turns, ROUNDS times (default 4), so other load falls on both alike. Both are
# measured by THIS tree's bench (bench/chapter_sync.py and bench/chapter_sync_seat.py are copied
# into REV's unpacked tree), so a change of the bench itself (round 6: the seat end in its own
# process) does not pass for a change of the code. Each run prints its own plain-download
# baseline measured in the same process pair.
#
#   bench/chapter_sync_ab.sh [REV] [ROUNDS] [extra chapter_sync.py options]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:-main}
rounds=${2:-4}
shift $(( $# > 2 ? 2 : $# ))
before=$(mktemp -d /tmp/chapter-sync-before.XXXXXX)
trap 'rm -rf "$before"' EXIT
git -C "$here" archive "$rev" | tar -x -C "$before"
cp "$here/bench/chapter_sync.py" "$here/bench/chapter_sync_seat.py" "$before/bench/"
python="$here/.venv/bin/python"
echo "before: $rev ($(git -C "$here" rev-parse --short "$rev")); after: $(git -C "$here" rev-parse --short HEAD) + working tree; bench: this tree's"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $("$python" -V)"
for i in $(seq 1 "$rounds"); do
  for side in before after; do
    if [ "$side" = before ]; then dir=$before; else dir=$here; fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    # The bench puts its own tree first on sys.path, so each side runs its own code.
    out=$(cd "$dir" && "$python" bench/chapter_sync.py --repeat 7 "$@" 2>&1)
    binary=$(echo "$out" | grep 'binary frames' | awk '{print $5}')
    plain=$(echo "$out" | grep 'plain loopback' | awk '{print $5}')
    ratio=$(echo "$out" | grep 'ratio binary / plain: ' | awk '{print $NF}')
    median=$(echo "$out" | grep 'per round' | sed -E 's/.*median ([0-9.]+).*/\1/')
    tail=$(echo "$out" | grep 'last chapter synced' | awk '{print $(NF-2)}')
    # CPU per binary delivery, least: each end's event loop, and the seat's whole process
    # (its worker threads write the chapters).
    cpu=$(echo "$out" | grep '^CPU ms per binary' \
      | sed -E 's/.*seat ([0-9.]+) \/ .*hub loop ([0-9.]+) .*seat loop ([0-9.]+) .*/loop cpu hub \2 ms seat \3 ms, seat all threads \1 ms/')
    printf '%s load %-5s %-6s binary %6s MiB/s  plain %6s MiB/s  ratio %s (median %s)  tail %s ms  %s\n' \
      "$(date -u +%H:%M:%S)" "$load" "$side" "$binary" "$plain" "$ratio" "$median" "$tail" "$cpu"
  done
done
