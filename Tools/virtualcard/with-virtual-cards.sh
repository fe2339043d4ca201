#!/usr/bin/env bash
# Runs a command with pcscd and the virtual cards up, then stops what it started (cards first,
# then pcscd), by PID. It never stops a process it did not start.
#   Tools/virtualcard/with-virtual-cards.sh swift test
# Without pcscd or vpcd installed, the command runs alone: under MIE_REQUIRE_ALL=1 (CI) the
# card tests then fail, elsewhere they skip.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state=$(mktemp -d)
card_pid=""; fido_pid=""; pcscd_pid=""
cleanup() {
  [ -n "$card_pid" ] && kill "$card_pid" 2>/dev/null && wait "$card_pid" 2>/dev/null
  [ -n "$fido_pid" ] && kill "$fido_pid" 2>/dev/null && wait "$fido_pid" 2>/dev/null
  [ -n "$pcscd_pid" ] && kill "$pcscd_pid" 2>/dev/null && wait "$pcscd_pid" 2>/dev/null
  rm -rf "$state"
}
trap cleanup EXIT

# Whether a TCP port is listening (vpcd's ports 35963/35964), read from /proc without
# connecting: vpcd would take a connection for a card.
listening() {
  python3 - "$1" <<'PY'
import sys
port = "%04X" % int(sys.argv[1])
for name in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for line in open(name).read().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(":" + port) and fields[3] == "0A":
                sys.exit(0)
    except FileNotFoundError:
        pass
sys.exit(1)
PY
}

if command -v pcscd >/dev/null && ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so* >/dev/null 2>&1; then
  running=""
  if [ -f /run/pcscd/pcscd.pid ] && kill -0 "$(cat /run/pcscd/pcscd.pid)" 2>/dev/null; then
    running=$(cat /run/pcscd/pcscd.pid)
  fi
  if [ -n "$running" ]; then
    if listening 35963; then
      echo "virtual cards: using the running pcscd (pid $running, not started here, left running)"
    else
      echo "virtual cards: a pcscd not started here (pid $running) runs without the vpcd driver;" \
           "stop it (this script only stops what it starts) and run again" >&2
      exit 2
    fi
  else
    rm -f /run/pcscd/pcscd.comm
    pcscd --foreground --debug >"$state/pcscd.log" 2>&1 &
    pcscd_pid=$!
    for _ in $(seq 50); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.1; done
  fi
  python3 "$here/cps_card.py" --port 35963 >"$state/card.log" 2>&1 &
  card_pid=$!
  python3 "$here/fido_card.py" --port 35964 --control "$state/fido-control.json" >"$state/fido.log" 2>&1 &
  fido_pid=$!
  for _ in $(seq 100); do
    grep -q connected "$state/card.log" 2>/dev/null && grep -q connected "$state/fido.log" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  export MIE_VIRTUAL_CARD_READER="Virtual PCD 00 00"
  export MIE_VIRTUAL_FIDO_READER="Virtual PCD 00 01"
  # Connected to vpcd is not yet seen by pcscd's clients: wait (at most 10 s) until a PC/SC
  # client lists both readers with their card (a CI run once found no reader right after).
  probe="$(cd "$here/../.." && pwd)/.build/debug/mie-probe"
  if [ -x "$probe" ]; then
    for _ in $(seq 100); do
      listed=$("$probe" readers 2>/dev/null || true)
      [ "$(printf '%s\n' "$listed" | grep -c 'card present')" -ge 2 ] && break
      sleep 0.1
    done
  fi
  # Tests write the FIDO authenticator's personality here (Tools/virtualcard/fido_card.py).
  export MIE_VIRTUAL_FIDO_CONTROL="$state/fido-control.json"
  echo "virtual cards: pcscd ${pcscd_pid:-$running}, CPS card on '$MIE_VIRTUAL_CARD_READER', FIDO2 NFC authenticator on '$MIE_VIRTUAL_FIDO_READER'"
else
  echo "virtual cards: pcscd or vsmartcard-vpcd not installed; the card tests skip (and fail under MIE_REQUIRE_ALL=1)"
fi
"$@"
