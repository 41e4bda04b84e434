#!/usr/bin/env bash
# e2e/window.sh: the desktop window is real. Run under a display (CI runs
# it as: xvfb-run -a dbus-run-session -- bash e2e/window.sh BIN OUTDIR):
# start `plexus` (the window; it starts the daemon), wait until the daemon
# has served the signed-in Home page to it, save a screenshot of the
# window, and stop everything this script started.
#
#   bash e2e/window.sh PLEXUS_DESKTOP_BINARY OUTDIR [--locked]
#
# With --locked the data directory first gets a passphrase vault (made
# through PLEXUS_PASSPHRASE, which the window then does not have): the
# daemon the window starts is locked, and the window must show the signed-in
# "Unlock Plexus" page instead.
#
# OUTDIR gets window.png, window.log (the window's output) and data/ (the
# data directory; its plexus.log is the daemon's).
set -euo pipefail
BIN="$1"
OUT="$2"
MODE="${3:-}"
mkdir -p "$OUT"
DATA="$OUT/data"
rm -rf "$DATA" && mkdir -m 700 "$DATA"
export PLEXUS_DATA_DIR="$DATA" PLEXUS_LISTEN=127.0.0.1:0 PLEXUS_LOG_LEVEL=debug
export NO_AT_BRIDGE=1 WEBKIT_DISABLE_DMABUF_RENDERER=1
LOG="$DATA/plexus.log"
WANT='msg="Admin UI page" path=/ui/$'
WHAT="the signed-in Home page"
if [ "$MODE" = --locked ]; then
  # The vault, with a tenant, through PLEXUS_PASSPHRASE; then stopped.
  PLEXUS_MASTER_KEY="" PLEXUS_PASSPHRASE="correct horse battery staple" \
    "$BIN" admin --data "$DATA" tenant create --entity-id personal --name Personal >/dev/null
  "$BIN" stop --data "$DATA" >/dev/null
  for _ in $(seq 1 100); do [ -e "$DATA/plexus.runtime.json" ] || break; sleep 0.1; done
  export PLEXUS_MASTER_KEY="" PLEXUS_PASSPHRASE=""
  WANT='msg="Admin UI unlock page"'
  WHAT="the signed-in unlock page"
else
  export PLEXUS_MASTER_KEY="${PLEXUS_MASTER_KEY:-$(head -c 32 /dev/urandom | base64 -w0)}"
fi

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
# to a signed-in session (and a locked one "Admin UI unlock page"): the
# window has the page.
ok=""
for _ in $(seq 1 300); do # 60 s
  if grep -q "$WANT" "$LOG" 2>/dev/null; then ok=1; break; fi
  kill -0 "$WIN_PID" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$ok" ]; then
  echo "window.sh: the window did not show $WHAT within 60 s" >&2
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
if [ "$MODE" = --locked ]; then
  grep -q 'msg="Vault locked: waiting for its passphrase' "$LOG" || { echo "window.sh: the daemon did not start locked" >&2; exit 1; }
else
  # A consent waits for the person at this computer: a tool called the way
  # Claude Desktop calls it (plexus stdio) needs a GitHub connection. The
  # window hears of it (and raises itself, and notifies).
  "$BIN" admin --data "$DATA" tenant create --entity-id personal --name Personal >/dev/null
  PLEXUS_CLIENT_SECRET=window-test-secret "$BIN" admin --data "$DATA" ext-oauth create --entity-id personal --preset github --client-id window-test >/dev/null
  {
    printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"claude-ai","version":"1"}}}' \
      '{"jsonrpc":"2.0","method":"notifications/initialized"}' \
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"github_list_repos","arguments":{}}}'
    sleep 5
  } | timeout 30 "$BIN" stdio --tenant personal --data "$DATA" >"$OUT/stdio.out" 2>"$OUT/stdio.err" || true
  grep -q '/personal/oauth/consent/' "$OUT/stdio.out" || { echo "window.sh: the tool gave no consent link" >&2; cat "$OUT/stdio.out" "$OUT/stdio.err" >&2; exit 1; }
  heard=""
  for _ in $(seq 1 50); do
    if grep -q 'msg="Something waits for the person at the window" kind=consent tenant=personal provider=github' "$OUT/window.log"; then heard=1; break; fi
    sleep 0.2
  done
  [ -n "$heard" ] || { echo "window.sh: the window did not hear of the consent" >&2; tail -n 20 "$OUT/window.log" >&2; exit 1; }
  echo "window.sh: the window heard of the consent (raised, notified)"
fi
echo "window.sh: the window shows $WHAT; screenshot $OUT/window.png ($size, mean brightness $mean)"
