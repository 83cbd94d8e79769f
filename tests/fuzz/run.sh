#!/usr/bin/env bash
# Builds the libFuzzer harnesses (cmake --preset fuzz: clang-14, ASan + UBSan) and runs each for
# the given number of seconds (default 60), starting from the committed seeds in
# tests/fuzz/corpus/<name>/. New interesting inputs go to build/fuzz/corpus/<name>/ (not the
# repository); a crashing input is written to tests/fuzz/regressions/<name>/, where the
# fuzz_<name>_replay CTest test replays it from then on, and the script fails.
#   tests/fuzz/run.sh [seconds] [harness...]     e.g. tests/fuzz/run.sh 600 program
# NALGRAD_FUZZ_SEED fixes libFuzzer's seed (scripts/test.sh sets it, so that CI explores the same
# inputs in every run and a red run can be repeated); unset, each run explores anew.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(checkpoint idx program)

cmake --preset fuzz -G Ninja >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target "${harnesses[@]/#/fuzz_}"

export GOMP_SPINCOUNT=10000
# Leaks are reported at exit by ASan; libFuzzer's own per-input leak check stays off (oneDNN and
# TBB keep caches that look like leaks within one input).
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
declare -A max_len=([checkpoint]=4096 [idx]=4096 [program]=256)
# NALGRAD_FUZZ_RUNS="checkpoint=N idx=N program=N" caps the inputs per harness: with a fixed seed,
# a run then covers exactly the inputs an earlier run of the same code covered (or, when the time
# runs out first, the first of them), so CI repeats what was run before submitting.
seed=()
[ -z "${NALGRAD_FUZZ_SEED:-}" ] || seed=(-seed="$NALGRAD_FUZZ_SEED")
declare -A runs=()
for entry in ${NALGRAD_FUZZ_RUNS:-}; do runs[${entry%%=*}]=${entry#*=}; done
status=0
for name in "${harnesses[@]}"; do
  work=build/fuzz/corpus/$name
  regressions=tests/fuzz/regressions/$name
  mkdir -p "$work" "$regressions"
  limit=()
  [ -z "${runs[$name]:-}" ] || limit=(-runs="${runs[$name]}")
  echo "== fuzz_$name for ${seconds} s ${limit[*]}"
  if ! build/fuzz/tests/fuzz/fuzz_"$name" "$work" "tests/fuzz/corpus/$name" \
      -max_total_time="$seconds" -max_len="${max_len[$name]}" -timeout=20 -rss_limit_mb=4096 \
      -artifact_prefix="$regressions/" -print_final_stats=1 "${seed[@]}" "${limit[@]}" 2>build/fuzz/fuzz_"$name".log; then
    tail -n 60 build/fuzz/fuzz_"$name".log
    echo "fuzz_$name found a crash: see $regressions/ (replayed by ctest -R fuzz_${name}_replay)"
    status=1
  else
    grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' \
      build/fuzz/fuzz_"$name".log || true
  fi
done
exit $status
