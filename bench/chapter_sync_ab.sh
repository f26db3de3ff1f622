#!/bin/bash
# Before/after for bench/chapter_sync.py, interleaved: the tree of REV (default: main) and this
# working tree take turns, ROUNDS times (default 4), so other load falls on both alike. Each
# run prints its own plain-download baseline measured in the same process.
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
python="$here/.venv/bin/python"
echo "before: $rev ($(git -C "$here" rev-parse --short "$rev")); after: $(git -C "$here" rev-parse --short HEAD) + working tree"
echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $("$python" -V)"
for i in $(seq 1 "$rounds"); do
  for side in before after; do
    if [ "$side" = before ]; then dir=$before; else dir=$here; fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    # The bench puts its own tree first on sys.path, so each side runs its own code.
    out=$(cd "$dir" && "$python" bench/chapter_sync.py --repeat 7 "$@" 2>&1)
    binary=$(echo "$out" | grep 'binary frames' | awk '{print $5}')
    plain=$(echo "$out" | grep 'plain loopback' | awk '{print $5}')
    ratio=$(echo "$out" | grep 'ratio binary' | awk '{print $NF}')
    tail=$(echo "$out" | grep 'last chapter synced' | awk '{print $(NF-2)}')
    cpu=$(echo "$out" | grep '^CPU' | sed -E 's/.*binary ([0-9.]+),.*plain ([0-9.]+);.*/cpu binary \1 s plain \2 s/' || true)
    loop=$(echo "$out" | grep '^event-loop' | sed -E 's/.*least ([0-9.]+) ms.*/loop cpu \1 ms/' || true)
    printf '%s load %-5s %-6s binary %6s MiB/s  plain %6s MiB/s  ratio %s  tail %s ms  %s  %s\n' \
      "$(date -u +%H:%M:%S)" "$load" "$side" "$binary" "$plain" "$ratio" "$tail" "${cpu:-}" "${loop:-}"
  done
done
