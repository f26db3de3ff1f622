#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing, so it is safe to run every time.
#   scripts/install-system-deps.sh test   -> redis-server, postgresql, chromium, ffmpeg (ffprobe)
#   scripts/install-system-deps.sh base   -> what creating the virtualenv needs (python3.11-venv)
#   scripts/install-system-deps.sh demo   -> nothing beyond that (the demo runs on the embedded default)
#   scripts/install-system-deps.sh bench  -> test's packages plus janus
set -euo pipefail
target="${1:-test}"
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pg() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
python="${PYTHON:-python3.11}"
# Debian splits venv/ensurepip out of the interpreter package.
"$python" -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3.11-venv)
case "$target" in
  test|bench)
    have_cmd redis-server || need+=(redis-server)
    have_pg || need+=(postgresql postgresql-contrib)
    have_cmd chromium || need+=(chromium)
    have_cmd ffprobe || need+=(ffmpeg)
    # A CJK font so screenshots of the Chinese pages are legible when a person looks at them.
    [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
    ;;
  base|demo) ;;
  *) echo "unknown target: $target" >&2; exit 2 ;;
esac
if [ "$target" = bench ]; then
  have_cmd janus || need+=(janus)
fi
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
# Debian starts a system redis on :6379 after installing it; the tests start their own on a free port.
