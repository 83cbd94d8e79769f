#!/bin/bash
# The lenet-fm benchmark and the PyTorch reference, in turns: for each configuration, nalgrad's
# benchmark, then PyTorch at the same batch and threads, then the next configuration; with
# --pairs N the whole sequence runs N times. Each pair gives a ratio nalgrad / PyTorch, taken
# minutes apart at most, so the machine's drift weighs on both sides; the summary is the median of
# a configuration's pair ratios. PyTorch (torch_lenet.py, with OpenBLAS through openblas.sh) runs
# when Debian's /usr/bin/python3 has torch (python3-torch); the python3 first on PATH may be
# another interpreter without it. GOMP_SPINCOUNT=10000 for both, so that both sides' OpenMP
# threads wait alike between parallel regions.
#
#   examples/benchmark/run.sh [--pairs N] [benchmark options]
#     e.g. --short, or --batch 64 --threads 2, or --pairs 3 --batch 64 --threads 2
#
# Build first: cmake --preset release && cmake --build build/release --target benchmark
# NALGRAD_BENCHMARK overrides the binary.
set -euo pipefail
export GOMP_SPINCOUNT=10000
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
binary=${NALGRAD_BENCHMARK:-$repo/build/release/examples/benchmark/benchmark}
python=/usr/bin/python3

if [ ! -x "$binary" ]; then
  echo "run.sh: no benchmark at $binary; build it first:" >&2
  echo "  cmake --preset release && cmake --build build/release --target benchmark" >&2
  exit 1
fi

# run.sh's own option, --pairs; --batch and --threads choose the configurations; everything else
# goes to the benchmark unchanged.
pairs=1
batch=
threads=
short=
passed=()
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs | --batch | --threads)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
        echo "run.sh: $1 needs a positive integer" >&2
        exit 2
      fi
      case "$1" in
        --pairs) pairs=$2 ;;
        --batch) batch=$2 ;;
        --threads) threads=$2 ;;
      esac
      shift 2
      ;;
    --short)
      short=1
      passed+=("$1")
      shift
      ;;
    *)
      passed+=("$1")
      shift
      ;;
  esac
done
if [ -n "$short" ] || [ -n "$batch$threads" ]; then
  configs=("${batch:-64} ${threads:-2}")  # the benchmark's own default for one configuration
else
  configs=("64 2" "16 2" "256 2" "64 1")  # the benchmark's own list (options.cpp)
fi

with_torch=1
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "run.sh: $python has no torch (apt-get install python3-torch); no PyTorch comparison"
  with_torch=
fi
torch_counts=()
[ -n "$short" ] && torch_counts=(--warmup 1 --steps 3 --rounds 1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((pair = 1; pair <= pairs; ++pair)); do
  for index in "${!configs[@]}"; do
    read -r b t <<<"${configs[$index]}"
    name="${index}_${pair}_${b}_${t}"  # the configuration's place first, so the summary keeps it
    echo
    echo "##### pair $pair of $pairs: B=$b, $t thread(s)"
    "$binary" --batch "$b" --threads "$t" "${passed[@]}" | tee "$work/nalgrad_$name.txt"
    [ -n "$with_torch" ] || continue
    echo
    echo "PyTorch reference (torch_lenet.py, OpenBLAS, channels_last and contiguous):"
    if ! "$here/openblas.sh" "$python" "$here/torch_lenet.py" --batches "$b" \
         --threads "$t" --no-epoch "${torch_counts[@]}" --json "$work/torch_$name.json"; then
      echo "run.sh: the PyTorch reference failed (see above); no ratios"
      exit 1
    fi
  done
done

echo
"$python" - "$work" <<'PY'
import glob, json, os, re, statistics, sys

work = sys.argv[1]
line = re.compile(r"^lenet-fm B=(\d+) threads=(\d+): nalgrad ([\d.]+) ms/step, raw oneDNN ([\d.]+) ms, "
                  r"ratio ([\d.]+)")
runs = {}  # (batch, threads) -> list of (nalgrad ms, raw ratio, PyTorch ms or None, format)
def order(path):  # the configurations in the order they ran, then the pairs
    return [int(x) for x in os.path.basename(path)[len("nalgrad_"):-len(".txt")].split("_")]
for path in sorted(glob.glob(os.path.join(work, "nalgrad_*.txt")), key=order):
    name = os.path.basename(path)[len("nalgrad_"):-len(".txt")]
    found = [m for m in map(line.match, open(path)) if m]
    if not found:
        continue
    m = found[-1]
    ours, raw_ratio = float(m[3]), float(m[5])
    torch_ms, fmt = None, None
    torch_path = os.path.join(work, f"torch_{name}.json")
    if os.path.exists(torch_path):
        for r in json.load(open(torch_path))["steps"]:  # the faster memory format
            if torch_ms is None or r["median_ms"] < torch_ms:
                torch_ms, fmt = r["median_ms"], r["fmt"]
    runs.setdefault((int(m[1]), int(m[2])), []).append((ours, raw_ratio, torch_ms, fmt))

print("summary, per configuration: each pair's nalgrad ms/step, its ratio to the raw oneDNN sum, "
      "PyTorch's faster memory format, and nalgrad / PyTorch; then the medians over the pairs")
for (batch, threads), pairs in runs.items():
    for ours, raw_ratio, torch_ms, fmt in pairs:
        vs_torch = (f"PyTorch {torch_ms:.2f} ms/step ({fmt}), nalgrad/PyTorch {ours / torch_ms:.2f}"
                    if torch_ms else "no PyTorch")
        print(f"  B={batch} threads={threads}: nalgrad {ours:.2f} ms/step, nalgrad/raw "
              f"{raw_ratio:.2f}; {vs_torch}")
    raw_median = statistics.median(p[1] for p in pairs)
    torch_ratios = [p[0] / p[2] for p in pairs if p[2]]
    vs_torch = (f"nalgrad/PyTorch {statistics.median(torch_ratios):.2f}" if torch_ratios
                else "no PyTorch comparison")
    print(f"lenet-fm B={batch} threads={threads}, median of {len(pairs)} pair(s): "
          f"nalgrad/raw {raw_median:.2f}, {vs_torch}")
PY
