#!/usr/bin/env bash
# e2e/window.sh: the desktop window is real. Run under a display (CI runs
# it as: xvfb-run -a dbus-run-session -- bash e2e/window.sh BIN OUTDIR):
# start `plexus` (the window; it starts the daemon), wait until the daemon
# has served the signed-in Home page to it, save a screenshot of the
# window, and stop everything this script started.
#
#   bash e2e/window.sh PLEXUS_DESKTOP_BINARY OUTDIR
#
# OUTDIR gets window.png, window.log (the window's output) and data/ (the
# data directory; its plexus.log is the daemon's).
set -euo pipefail
BIN="$1"
OUT="$2"
mkdir -p "$OUT"
DATA="$OUT/data"
rm -rf "$DATA" && mkdir -m 700 "$DATA"
export PLEXUS_DATA_DIR="$DATA" PLEXUS_LISTEN=127.0.0.1:0 PLEXUS_LOG_LEVEL=debug
export NO_AT_BRIDGE=1 WEBKIT_DISABLE_DMABUF_RENDERER=1
export PLEXUS_MASTER_KEY="${PLEXUS_MASTER_KEY:-$(head -c 32 /dev/urandom | base64 -w0)}"
LOG="$DATA/plexus.log"

WIN_PID=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$WIN_PID" ] && kill -0 "$WIN_PID" 2>/dev/null; then
    kill -TERM "$WIN_PID"
    for _ in $(seq 1 50); do kill -0 "$WIN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$WIN_PID" 2>/dev/null
  fi
  # The daemon the window started: ask it to stop, then make sure.
  "$BIN" stop --data "$DATA" >/dev/null 2>&1
  if [ -f "$DATA/plexus.runtime.json" ]; then
    pid="$(sed -n 's/.*"pid"[[:space:]]*:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$DATA/plexus.runtime.json" | head -n1)"
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$BIN"; then kill -KILL "$pid"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT

"$BIN" >"$OUT/window.log" 2>&1 &
WIN_PID=$!

# The daemon logs "Admin UI page" at debug level for every page it serves
# to a signed-in session: the window has the signed-in Home page.
ok=""
for _ in $(seq 1 300); do # 60 s
  if grep -q 'msg="Admin UI page" path=/ui/$' "$LOG" 2>/dev/null; then ok=1; break; fi
  kill -0 "$WIN_PID" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$ok" ]; then
  echo "window.sh: the window did not show the signed-in Home page within 60 s" >&2
  tail -n 20 "$OUT/window.log" >&2 || true
  tail -n 20 "$LOG" >&2 || true
  exit 1
fi
grep -q 'msg="Admin UI login"' "$LOG" || { echo "window.sh: no login in the daemon log" >&2; exit 1; }
sleep 1.5 # let it paint
# The whole (black) screen, then trimmed to the window on it.
import -window root "$OUT/screen.png"
convert "$OUT/screen.png" -trim +repage "$OUT/window.png"
size="$(identify -format '%wx%h' "$OUT/window.png")"
mean="$(convert "$OUT/window.png" -format '%[fx:mean]' info:)"
if ! awk -v m="$mean" 'BEGIN { exit !(m > 0.2) }'; then
  echo "window.sh: the screenshot is (nearly) black (mean $mean)" >&2
  exit 1
fi
echo "window.sh: the window shows the signed-in Home page; screenshot $OUT/window.png ($size, mean brightness $mean)"
