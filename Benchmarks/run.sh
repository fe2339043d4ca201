#!/usr/bin/env bash
# Benchmarks, one core each, side by side with py_webauthn on the same generated inputs.
#   Benchmarks/run.sh [SECONDS_PER_CASE]      (default 3)
# Prints mie-bench's in-process table, py_webauthn's, their ratios, then the end-to-end run
# (Benchmarks/e2e.py): the release CLI on generated request files, one and two cores, against
# the raw P-256 limit and py_webauthn on the same lines. Results land in Benchmarks/results/
# (not committed). Needs GNU time (/usr/bin/time) and taskset.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
seconds=${1:-3}
out="$here/results"
mkdir -p "$out"
cd "$root"

echo "== building (release)"
swift build -c release --package-path "$here" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
swift build -c release --product mie-verifier >>"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
interposer="$here/.build/release/libMallocInterposerSwift.so"

echo "== mie-bench"
LD_PRELOAD="$interposer" taskset -c 0 "$here/.build/release/mie-bench" --seconds "$seconds" --json "$out/mie.json"

echo
echo "== py_webauthn"
if [ ! -x "$here/.venv/bin/python" ]; then python3 -m venv "$here/.venv"; fi
"$here/.venv/bin/pip" install -q "webauthn==3.0.1"
taskset -c 0 "$here/.venv/bin/python" "$here/py_webauthn_bench.py" --seconds "$seconds" --json "$out/py_webauthn.json"

echo
echo "== ratios (mie-verifier / py_webauthn, one core each)"
python3 - "$out/mie.json" "$out/py_webauthn.json" <<'PY'
import json, sys
mie = {m["name"]: m["opsPerSecond"] for m in json.load(open(sys.argv[1]))}
py = json.load(open(sys.argv[2]))
# In process, same prepared input repeated; the end-to-end ratios below are the ones issue #7 sets.
targets = {"assertion-es256-prepared-key": None, "registration-packed-x5c-es256": None,
           "registration-packed-x5c-es256-cold": None, "registration-none-es256": None,
           "registration-tpm-rs256": None, "registration-android-key-es256": None}
for name, target in targets.items():
    key = name if name in py else name.replace("-cold", "")
    ratio = mie[name] / py[key]
    goal = f"(target >= {target})" if target else ("(no caches: every chain built afresh)" if "cold" in name else "")
    print(f"{name:<40} {mie[name]:>9.0f} vs {py[key]:>7.0f} ops/s   {ratio:5.2f}x  {goal}")
PY

echo
echo "== end to end: JSON lines in, verdicts out (Benchmarks/e2e.py)"
python3 "$here/e2e.py"
