#!/bin/bash
# Which OpenMP wait policy suits whole training steps. oneDNN (Debian's build) runs on libgomp's
# pool and nalgrad's own loops on TBB; idle OpenMP threads spin for GOMP_SPINCOUNT iterations
# before they sleep, which can steal the cores from the TBB loop that follows a primitive. libgomp
# reads these variables when it loads, so each policy is a fresh process. Policies run in turns,
# `rounds` times, so a change in the machine's load touches every policy alike; each result is
# the benchmark's median step (lenet-fm) and the median over rounds is printed last.
#
#   examples/benchmark/thread_policy.sh [rounds] [benchmark options]   (default: 3 --batch 64 --threads 2)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
binary=${NALGRAD_BENCHMARK:-$repo/build/release/examples/benchmark/benchmark}
rounds=${1:-3}
shift || true
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(--batch 64 --threads 2)

policies=("GOMP_SPINCOUNT=10000" "GOMP_SPINCOUNT=1000" "GOMP_SPINCOUNT=100000"
          "OMP_WAIT_POLICY=passive" "OMP_WAIT_POLICY=active" "libgomp default")
declare -A results
for ((round = 1; round <= rounds; ++round)); do
  for policy in "${policies[@]}"; do
    settings=()
    [ "$policy" = "libgomp default" ] || settings=("$policy")
    line=$(env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY "${settings[@]}" "$binary" "${options[@]}" |
           grep '^lenet-fm B=' | head -1)
    ms=$(sed -E 's/.*: nalgrad ([0-9.]+) ms\/step.*/\1/' <<<"$line")
    echo "round $round, $policy: $line"
    results[$policy]+="$ms "
  done
done

echo
echo "median step over $rounds rounds (${options[*]}):"
for policy in "${policies[@]}"; do
  # shellcheck disable=SC2086
  median=$(printf '%s\n' ${results[$policy]} | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
  printf '  %-26s %8s ms   (rounds: %s)\n' "$policy" "$median" "${results[$policy]}"
done
