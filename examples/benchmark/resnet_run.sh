#!/bin/bash
# The residual network's training step (resnet_benchmark) and PyTorch's (torch_resnet.py
# --step-benchmark), in turns: for each batch size, nalgrad then PyTorch, the ratio of the two
# medians; with --pairs N the whole sequence runs N times, and the summary is the median of each
# batch size's pair ratios. Both with GOMP_SPINCOUNT=10000 and the same threads.
#
#   examples/benchmark/resnet_run.sh [--pairs N] [--threads T] [--width W] [--blocks K]
#
# Build first: cmake --preset release && cmake --build build/release --target resnet_benchmark
set -euo pipefail
export GOMP_SPINCOUNT=10000
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
binary=${NALGRAD_RESNET_BENCHMARK:-$repo/build/release/examples/benchmark/resnet_benchmark}
python=/usr/bin/python3
pairs=1 threads=2 width=32 blocks=1
while [ $# -gt 0 ]; do
  case "$1" in
    --pairs | --threads | --width | --blocks)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-9][0-9]*$ ]]; then
        echo "resnet_run.sh: $1 needs a positive integer" >&2
        exit 2
      fi
      declare "${1#--}=$2"
      shift 2
      ;;
    *)
      echo "resnet_run.sh: unknown option $1" >&2
      exit 2
      ;;
  esac
done
if [ ! -x "$binary" ]; then
  echo "resnet_run.sh: no benchmark at $binary; build it first:" >&2
  echo "  cmake --preset release && cmake --build build/release --target resnet_benchmark" >&2
  exit 1
fi
if ! "$python" -c "import torch" 2>/dev/null; then
  echo "resnet_run.sh: $python has no torch (apt-get install python3-torch)" >&2
  exit 1
fi

declare -A ratios
for pair in $(seq "$pairs"); do
  for batch in 64 128; do
    ours=$("$binary" --batch "$batch" --threads "$threads" --width "$width" --blocks "$blocks")
    echo "$ours"
    theirs=$("$python" "$here/../fashion_mnist/torch_resnet.py" --step-benchmark --batch "$batch" \
      --threads "$threads" --width "$width" --blocks "$blocks")
    echo "$theirs"
    a=$(sed -n 's/.*nalgrad \([0-9.]*\) ms\/step.*/\1/p' <<<"$ours")
    b=$(sed -n 's/.*PyTorch \([0-9.]*\) ms\/step.*/\1/p' <<<"$theirs")
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
    echo "pair $pair B=$batch threads=$threads: nalgrad $a ms/step, PyTorch $b ms/step, nalgrad/PyTorch $ratio"
    ratios[$batch]="${ratios[$batch]:-} $ratio"
  done
done
for batch in 64 128; do
  median=$(tr ' ' '\n' <<<"${ratios[$batch]}" | grep . | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
  echo "resnet width $width blocks $blocks B=$batch threads=$threads, median of $pairs pair(s): nalgrad/PyTorch $median"
done
