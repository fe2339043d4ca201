#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers with libFuzzer + AddressSanitizer.
#   Tools/fuzz/run.sh [SECONDS] [TARGET...]     default: 30 s for each of every target
# Targets: cbor authenticator-data cose-key attestation-object client-data tpm-attest tpm-public
#          key-description safetynet-jws request-json certificate
# Seeds come from TestVectors/. A crash leaves its input in Tools/fuzz/artifacts/; copy it to
# TestVectors/fuzz-regressions/<target>/ so FuzzRegressionTests replays it forever.
# Longer campaign:  Tools/fuzz/run.sh 3600 cbor attestation-object
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(cbor authenticator-data cose-key attestation-object client-data tpm-attest tpm-public key-description safetynet-jws request-json certificate referencing-list)

echo "fuzz: building with -sanitize=fuzzer,address"
swift build --package-path "$here" --sanitize fuzzer --sanitize address -c debug >/tmp/mie-fuzz-build.log 2>&1 || {
  tail -40 /tmp/mie-fuzz-build.log; exit 1; }
binary="$(swift build --package-path "$here" --sanitize fuzzer --sanitize address --show-bin-path)/FuzzTargets"

python3 "$here/seeds.py" "$root" "$here"
mkdir -p "$here/artifacts"
status=0
for target in "${targets[@]}"; do
  corpus="$here/corpus-$target"
  regressions="$root/TestVectors/fuzz-regressions/$target"
  seeds=("$corpus")
  [ -d "$regressions" ] && seeds+=("$regressions")
  echo "fuzz: $target for ${seconds}s ($(ls "$corpus" | wc -l) seeds)"
  if ! MIE_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no "$binary" \
      -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$here/artifacts/$target-" -print_final_stats=1 "${seeds[@]}" \
      >"$here/artifacts/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; see $here/artifacts/$target.log"; tail -30 "$here/artifacts/$target.log"; status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$here/artifacts/$target.log" | sed "s/^/fuzz: $target /"
  fi
done
exit $status
