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

# What holds a local TCP port (vpcd's 35963/35964), read from /proc without connecting (vpcd
# would take a connection for a card): "listening", "held" (any other socket bound to it, a
# client's ephemeral port or a TIME_WAIT left by one) or "free".
port_state() {
  python3 - "$1" <<'PY'
import sys
port = "%04X" % int(sys.argv[1])
state = "free"
for name in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for line in open(name).read().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(":" + port):
                if fields[3] == "0A":
                    print("listening"); sys.exit(0)
                state = "held"
    except FileNotFoundError:
        pass
print(state)
PY
}

# vpcd binds 35963 and 35964 when pcscd starts. Both lie in Linux's ephemeral range: if any
# socket holds one (a test's client connection, or its TIME_WAIT for up to 60 s), the bind
# fails, pcscd comes up with no reader at all and every card test fails with "no smart card
# reader is connected". Wait (at most 75 s) until both are free; CI also takes them out of the
# ephemeral range (net.ipv4.ip_local_reserved_ports, .ci/run).
wait_for_vpcd_ports() {
  for _ in $(seq 150); do
    [ "$(port_state 35963)" = free ] && [ "$(port_state 35964)" = free ] && return 0
    sleep 0.5
  done
  echo "virtual cards: a socket still holds vpcd's port 35963 or 35964 after 75 s" \
       "(/proc/net/tcp); pcscd could not give the virtual readers" >&2
  return 1
}

if command -v pcscd >/dev/null && ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so* >/dev/null 2>&1; then
  running=""
  if [ -f /run/pcscd/pcscd.pid ] && kill -0 "$(cat /run/pcscd/pcscd.pid)" 2>/dev/null; then
    running=$(cat /run/pcscd/pcscd.pid)
  fi
  if [ -n "$running" ]; then
    if [ "$(port_state 35963)" = listening ]; then
      echo "virtual cards: using the running pcscd (pid $running, not started here, left running)"
    else
      echo "virtual cards: a pcscd not started here (pid $running) runs without the vpcd driver;" \
           "stop it (this script only stops what it starts) and run again" >&2
      exit 2
    fi
  else
    wait_for_vpcd_ports || exit 2
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
  # client lists both readers with their card. Without them every card test would fail for a
  # reason of the machine, not of the code: say so here, with pcscd's own account.
  probe="$(cd "$here/../.." && pwd)/.build/debug/mie-probe"
  if [ -x "$probe" ]; then
    ready=""
    for _ in $(seq 100); do
      listed=$("$probe" readers 2>/dev/null || true)
      if [ "$(printf '%s\n' "$listed" | grep -c 'card present')" -ge 2 ]; then ready=1; break; fi
      sleep 0.1
    done
    if [ -z "$ready" ]; then
      echo "virtual cards: pcscd does not list both virtual readers with their card after 10 s" >&2
      printf '%s\n' "$listed" >&2
      echo "-- vpcd's ports: 35963 $(port_state 35963), 35964 $(port_state 35964)" >&2
      if [ -f "$state/pcscd.log" ]; then
        echo "-- pcscd's log, the readers' start:" >&2
        grep -E "ifd-vpcd|RFAddReader|RFInitializeReader|already in use" "$state/pcscd.log" | head -n 20 >&2
      fi
      echo "-- the cards' logs:" >&2
      tail -n 5 "$state/card.log" "$state/fido.log" >&2
      exit 2
    fi
  fi
  # Tests write the FIDO authenticator's personality here (Tools/virtualcard/fido_card.py).
  export MIE_VIRTUAL_FIDO_CONTROL="$state/fido-control.json"
  echo "virtual cards: pcscd ${pcscd_pid:-$running}, CPS card on '$MIE_VIRTUAL_CARD_READER', FIDO2 NFC authenticator on '$MIE_VIRTUAL_FIDO_READER'"
else
  echo "virtual cards: pcscd or vsmartcard-vpcd not installed; the card tests skip (and fail under MIE_REQUIRE_ALL=1)"
fi
"$@"
