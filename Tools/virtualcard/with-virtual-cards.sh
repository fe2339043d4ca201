#!/usr/bin/env bash
# Runs a command with pcscd and the virtual CPS card up, then stops both (card first) by PID.
#   Tools/virtualcard/with-virtual-cards.sh swift test
# Without pcscd or vpcd installed, the command runs alone (the end-to-end tests then skip).
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

if command -v pcscd >/dev/null && ls /usr/lib/pcsc/drivers/serial/libifdvpcd.so* >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ] && pgrep -x pcscd >/dev/null; then
    # A daemon started by the package's install script may predate the vpcd driver: restart.
    pkill -x pcscd; sleep 0.5
  fi
  if [ -S /run/pcscd/pcscd.comm ] && pgrep -x pcscd >/dev/null; then
    echo "virtual cards: using the running pcscd"
  else
    rm -f /run/pcscd/pcscd.comm
    pcscd --foreground --debug >"$state/pcscd.log" 2>&1 &
    pcscd_pid=$!
    for _ in $(seq 50); do [ -S /run/pcscd/pcscd.comm ] && break; sleep 0.1; done
  fi
  python3 "$here/cps_card.py" --port 35963 >"$state/card.log" 2>&1 &
  card_pid=$!
  python3 "$here/fido_card.py" --port 35964 >"$state/fido.log" 2>&1 &
  fido_pid=$!
  for _ in $(seq 100); do
    grep -q connected "$state/card.log" 2>/dev/null && grep -q connected "$state/fido.log" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  export MIE_VIRTUAL_CARD_READER="Virtual PCD 00 00"
  export MIE_VIRTUAL_FIDO_READER="Virtual PCD 00 01"
  echo "virtual cards: pcscd ${pcscd_pid:-(running)}, CPS card on '$MIE_VIRTUAL_CARD_READER', FIDO2 NFC authenticator on '$MIE_VIRTUAL_FIDO_READER'"
else
  echo "virtual cards: pcscd or vsmartcard-vpcd not installed; end-to-end card tests will skip"
fi
"$@"
