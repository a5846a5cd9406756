#!/bin/bash
# run-s0.sh BENCH SANDBOX [N] — run ukey-bench-s0 in-process, then through the real PC/SC
# stack under ukey-sandbox (skipped, with a message, where no sandbox can run here).
# Used by the bench_s0_smoke CTest (tiny N: checks the benchmark runs and prints its table;
# no timing is asserted) and by hand for docs/performance.md (N = 100 or more).
set -u
bench=${1:?usage: run-s0.sh BENCH SANDBOX [N]}
sandbox=${2:?usage: run-s0.sh BENCH SANDBOX [N]}
n=${3:-100}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$bench" -n "$n" | tee "$out" || exit 1
grep -q '^| SM2 signature (PSO' "$out" || { echo "run-s0: no table printed"; exit 1; }

export UKEY_SANDBOX_MODULE=${UKEY_SANDBOX_MODULE:-/dev/null}
if [ ! -x "$sandbox" ] || ! "$sandbox" --check >/dev/null 2>&1; then
	echo "run-s0: no usable ukey-sandbox at '$sandbox': PC/SC run skipped"
	exit 0
fi
"$sandbox" -- "$bench" -n "$n" --pcsc | tee "$out" || exit 1
grep -q '^| SM2 signature (PSO' "$out" || { echo "run-s0: no PC/SC table printed"; exit 1; }
