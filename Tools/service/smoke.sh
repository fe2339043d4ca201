#!/usr/bin/env bash
# The README's first command as a user runs it: `make run` on a free port, then the service must
# become ready, answer with the DEMO key it printed, serve its page, and stop with status 0 on
# SIGTERM (in-flight requests finished, audit committed). Exit 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
make run PORT="$port" >"$log" 2>&1 &
make_pid=$!
fail() { echo "smoke: $*" >&2; tail -n 40 "$log" >&2; kill -- "$make_pid" 2>/dev/null || true; exit 1; }
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
  kill -0 "$make_pid" 2>/dev/null || fail "make run exited before the service was ready"
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null || fail "not ready after 300 s"
key=$(sed -n 's/^DEMO client key.*: \(mie_[A-Za-z0-9_-]*\)$/\1/p' "$log")
[ -n "$key" ] || fail "no DEMO client key printed"
curl -fsS -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/referencing" | grep -q '"lists"' || fail "GET /v1/referencing"
curl -fsS "http://127.0.0.1:$port/" | grep -q "MIE Verifier" || fail "GET /"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  --data '{"holder":{"id":"smoke","name":"smoke"}}' "http://127.0.0.1:$port/v1/registrations/options")
[ "$status" = 200 ] || fail "POST /v1/registrations/options answered $status"
server=$(pgrep -P "$make_pid" -f "mie-verifier serve") || fail "cannot find the service process"
kill -TERM "$server"
wait "$make_pid" || fail "the service did not stop cleanly on SIGTERM"
# A clean stop says nothing alarming: no warning or error once the service listened.
alarms=$(sed -n '/listening on/,$p' "$log" | grep -E '^[0-9T:+-]+ (warning|error|critical) ' || true)
[ -z "$alarms" ] || fail "warnings or errors while serving or stopping: $alarms"
.build/debug/mie-verifier audit verify --database .build/demo/mie.sqlite >/dev/null || fail "the audit chain does not verify"
# The signed head it appended on the way out names the trail's end; the trail still has it.
heads=.build/demo/mie.sqlite.audit-heads/heads.jsonl
[ -s "$heads" ] || fail "no signed audit head was exported to $heads"
.build/debug/mie-verifier audit verify --database .build/demo/mie.sqlite --head "$heads" >/dev/null || fail "the trail does not match its signed head"
echo "smoke: make run serves on port $port, answers with its DEMO key, stops cleanly, its signed audit head verifies"
