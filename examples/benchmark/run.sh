#!/bin/bash
# The lenet-fm benchmark, then the PyTorch reference at the same configurations and the ratio
# nalgrad / PyTorch per configuration. PyTorch runs when Debian's /usr/bin/python3 has torch and
# the shared reference scripts exist (../shared/bench from the repository root); they are called,
# not copied. GOMP_SPINCOUNT=10000 for both, as the references were measured.
#
#   examples/benchmark/run.sh [benchmark options]     e.g. --short, or --batch 64 --threads 2
#
# Build first: cmake --preset release && cmake --build build/release --target benchmark
# NALGRAD_BENCHMARK overrides the binary, NALGRAD_BENCH_SHARED the reference folder.
set -euo pipefail
export GOMP_SPINCOUNT=10000
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
binary=${NALGRAD_BENCHMARK:-$repo/build/release/examples/benchmark/benchmark}
shared=${NALGRAD_BENCH_SHARED:-$(cd "$repo/.." && pwd)/shared/bench}
python=/usr/bin/python3

if [ ! -x "$binary" ]; then
  echo "run.sh: no benchmark at $binary; build it first:" >&2
  echo "  cmake --preset release && cmake --build build/release --target benchmark" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$binary" "$@" | tee "$work/nalgrad.txt"

if [ ! -d "$shared" ]; then
  echo "run.sh: the shared reference folder $shared is missing; no PyTorch comparison"
  exit 0
fi
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "run.sh: $python has no torch (apt-get install python3-torch); no PyTorch comparison"
  exit 0
fi

# The same configurations as the benchmark ran: its summary lines "lenet-fm B=64 threads=2: ...".
summary=$(grep '^lenet-fm B=' "$work/nalgrad.txt")
counts=()
case " $* " in *" --short "*) counts=(--warmup 1 --steps 3 --rounds 1) ;; esac
echo
echo "PyTorch reference ($shared/torch_lenet.py, OpenBLAS, channels_last and contiguous):"
for threads in $(sed -E 's/.* threads=([0-9]+):.*/\1/' <<<"$summary" | sort -u); do
  batches=$(grep " threads=$threads:" <<<"$summary" | sed -E 's/^lenet-fm B=([0-9]+) .*/\1/' |
            paste -sd, -)
  if ! "$shared/with_openblas.sh" "$python" "$shared/torch_lenet.py" --batches "$batches" \
       --threads "$threads" --no-epoch "${counts[@]}" --json "$work/torch_$threads.json"; then
    echo "run.sh: the PyTorch reference failed (see above); no ratios"
    exit 1
  fi
done

echo
"$python" - "$work/nalgrad.txt" "$work"/torch_*.json <<'PY'
import json, re, sys

torch = {}  # (batch, threads) -> (median ms, format) of the faster memory format
for path in sys.argv[2:]:
    for r in json.load(open(path))["steps"]:
        key = (r["batch"], r["threads"])
        if key not in torch or r["median_ms"] < torch[key][0]:
            torch[key] = (r["median_ms"], r["fmt"])
line = re.compile(r"^lenet-fm B=(\d+) threads=(\d+): nalgrad ([\d.]+) ms/step, raw oneDNN ([\d.]+) ms")
for text in open(sys.argv[1]):
    m = line.match(text)
    if not m:
        continue
    batch, threads, ours, raw = int(m[1]), int(m[2]), float(m[3]), float(m[4])
    if (batch, threads) not in torch:
        continue
    ms, fmt = torch[(batch, threads)]
    print(f"lenet-fm B={batch} threads={threads}: nalgrad {ours:.2f} ms/step, "
          f"PyTorch {ms:.2f} ms/step ({fmt}), ratio nalgrad/PyTorch {ours / ms:.2f}; "
          f"raw oneDNN {raw:.2f} ms")
PY
