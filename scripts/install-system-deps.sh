#!/usr/bin/env bash
# Installs the Debian packages a target needs, only those missing, so it is safe to run every time.
#   scripts/install-system-deps.sh test   -> redis-server, postgresql, chromium, ffmpeg (ffprobe),
#                                            nginx-light (nginx -t checks the compose stack's proxy),
#                                            janus, janus-tools (the media_backend=janus tests start
#                                            it on loopback; janus-pp-rec converts its recordings)
#   scripts/install-system-deps.sh base   -> what the hub needs to run: python3.11-venv, and Pango with
#                                            a CJK font for WeasyPrint (the report as PDF)
#   scripts/install-system-deps.sh demo   -> nothing beyond base (the demo runs on the embedded default)
#   scripts/install-system-deps.sh bench  -> test's packages
set -euo pipefail
target="${1:-test}"
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_pg() { compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; }
have_lib() { compgen -G "/usr/lib/*/$1" >/dev/null || compgen -G "/usr/lib/$1" >/dev/null; }
python="${PYTHON:-python3.11}"
# Debian splits venv/ensurepip out of the interpreter package.
"$python" -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3.11-venv)
# WeasyPrint renders the signed report as PDF through Pango (loaded with cffi at run time), and
# needs a font with the Chinese glyphs (evaluation_hub/evaluation/report_pdf.py names it; it
# also makes screenshots of the Chinese pages legible when a person looks at them).
have_lib libpango-1.0.so.0 || need+=(libpango-1.0-0)
have_lib libpangoft2-1.0.so.0 || need+=(libpangoft2-1.0-0)
[ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ] || need+=(fonts-wqy-zenhei)
case "$target" in
  test|bench)
    have_cmd redis-server || need+=(redis-server)
    have_pg || need+=(postgresql postgresql-contrib)
    have_cmd chromium || need+=(chromium)
    have_cmd ffprobe || need+=(ffmpeg)
    [ -x /usr/sbin/nginx ] || need+=(nginx-light)
    # Janus VideoRoom (media_backend=janus) and janus-pp-rec (janus-tools: its recordings to WebM)
    have_cmd janus || need+=(janus)
    have_cmd janus-pp-rec || need+=(janus-tools)
    ;;
  base|demo) ;;
  *) echo "unknown target: $target" >&2; exit 2 ;;
esac
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
# Debian starts a system redis on :6379 after installing it; the tests start their own on a free port.
# Likewise nginx on :80: the tests only run `nginx -t` on the compose stack's configuration.
if printf '%s\n' "${need[@]}" | grep -qx nginx-light; then
  $SUDO service nginx stop >/dev/null 2>&1 || true
fi
# Likewise janus on :8088 (no secret): the tests start their own, from a generated configuration.
if printf '%s\n' "${need[@]}" | grep -qx janus; then
  $SUDO service janus stop >/dev/null 2>&1 || true
fi
