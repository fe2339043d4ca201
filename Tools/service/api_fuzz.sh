#!/usr/bin/env bash
# API fuzzing from the OpenAPI document: starts `mie-verifier serve --demo` on a fresh database,
# then schemathesis generates requests for every operation (valid and invalid bodies, headers,
# parameters) with the DEMO key, and holds every response to the document: no 5xx, documented
# status codes and content types, bodies matching their schemas, 405 for undeclared methods,
# 401 without the key. Left out: positive_data_acceptance, which expects every schema-valid
# request to succeed; validity here goes beyond a schema (CBOR and signatures inside the
# credential, an RPPS number's Luhn key, a list's signature), and those are answered with a
# documented 400 or 422. Exit 1 on any failure.
#   Tools/service/api_fuzz.sh [MAX_EXAMPLES]
set -euo pipefail
cd "$(dirname "$0")/../.."
examples="${1:-40}"
binary=.build/debug/mie-verifier
[ -x "$binary" ] || { echo "api-fuzz: build mie-verifier first" >&2; exit 1; }
command -v schemathesis >/dev/null || { echo "api-fuzz: schemathesis is not installed (pip install schemathesis)" >&2; exit 1; }
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$binary" serve --demo --database "$work/mie.sqlite" --port "$port" >"$work/service.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
key=$(sed -n 's/^DEMO client key.*: \(mie_[A-Za-z0-9_-]*\)$/\1/p' "$work/service.log")
[ -n "$key" ] || { echo "api-fuzz: the service did not start" >&2; cat "$work/service.log" >&2; exit 1; }
status=0
schemathesis run "http://127.0.0.1:$port/v1/openapi.json" --url "http://127.0.0.1:$port" \
  -H "Authorization: Bearer $key" --checks all --exclude-checks positive_data_acceptance --max-examples "$examples" --generation-deterministic \
  --request-timeout 10 --no-color || status=$?
kill -TERM "$server"
wait "$server" || { echo "api-fuzz: the service did not stop cleanly" >&2; status=1; }
trap - EXIT
if grep -q '"level":"error"\|internal error' "$work/service.log"; then
  echo "api-fuzz: the service logged internal errors:" >&2
  grep 'internal error' "$work/service.log" | head -5 >&2
  status=1
fi
exit $status
