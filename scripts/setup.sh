#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine: Python venv + packages, and the system
# servers GridWatch uses for real (Mosquitto). Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${GRIDWATCH_VENV:-.venv}
PY=${PYTHON:-python3}

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  # Install Debian packages when apt is usable (root, or password-less sudo).
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if have sudo && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "setup: please install: $*  (apt needs root)" >&2; return 1; fi
  fi
  have apt-get || { echo "setup: no apt-get here; please install: $*" >&2; return 1; }
  echo "setup: installing $* with apt" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null 2>&1 && \
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}

need() {  # need BINARY DEBIAN-PACKAGE: install the package when the binary is missing
  have "$1" || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ] || apt_install "$2" || true
}

# --- system packages (servers the demo and the tests run for real) ----------
need mosquitto mosquitto
need mosquitto_pub mosquitto-clients   # the ingest benchmark's load generator
need victoria-metrics victoria-metrics # telemetry tests: accepts the InfluxDB v2 write API
need chromium chromium       # browser tests drive Debian's Chromium with Playwright
need socat socat             # Modbus RTU tests: a serial line between two pseudo-terminals
need curl curl               # the demo prints curl commands (tests paste them)
need pg_dump postgresql-client       # backups of the PostgreSQL store (gridwatch db backup)
need systemd-analyze systemd         # the systemd units are checked with systemd-analyze verify
need pdftoppm poppler-utils          # report tests render the weekly report's PDF to PNG (and pdftotext)
# Chinese glyphs for the pages in headless Chromium (browser tests, screenshots in docs/).
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || apt_install fonts-noto-cjk || true
# A real RTSP server sending live H.264 (GStreamer's, run by the system Python): camera tests
# (tests/support/video/rtsp.py) and bench/video_rtsp.py read it as they would an IP camera.
rtsp_missing=()
for pkg in python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly; do
  dpkg -s "$pkg" >/dev/null 2>&1 || rtsp_missing+=("$pkg")
done
[ ${#rtsp_missing[@]} -eq 0 ] || apt_install "${rtsp_missing[@]}" || true

# --- Python ------------------------------------------------------------------
"$PY" - <<'PYCHECK'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"setup: Python >= 3.11 is needed, found {sys.version.split()[0]}")
PYCHECK
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  "$PY" -m venv "$VENV"
fi
stamp="$VENV/.gridwatch-installed"
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages into $VENV" >&2
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v -E "^(WARNING|  )" >&2 || true
  "$VENV/bin/python" -c "import gridwatch, contracts, gateway, edge, cloud_api" \
    || { echo "setup: the Python install failed" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
