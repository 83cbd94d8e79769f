#!/bin/sh
# Runs a command with OpenBLAS as the BLAS of Debian's PyTorch. Debian's python3-torch calls
# libblas.so.3, the reference BLAS unless an OpenBLAS package is installed, and with the reference
# BLAS its dense layers take about six times as long: the PyTorch figures would measure the BLAS.
# When libblas.so.3 is not OpenBLAS, Debian's libopenblas0-openmp is unpacked (not installed) into
# a cache folder, from apt's archive or fetched with `apt-get download` the first time, and put
# first on LD_LIBRARY_PATH. The OpenMP build, because torch.set_num_threads sets OpenMP's thread
# count: the BLAS then runs on as many threads as the rest of PyTorch.
#
# OpenBLAS 0.3.21 (Debian 12) picks its kernels by CPU model and takes generic ones for a model it
# does not know, which some AVX-512 CPUs are; so on a CPU with AVX-512, OPENBLAS_CORETYPE is
# SkylakeX (its AVX-512 kernels) unless already set. Elsewhere OpenBLAS chooses. OPENBLAS_L2_SIZE
# and the other OPENBLAS_ variables reach OpenBLAS as they are set.
#
#   examples/benchmark/openblas.sh /usr/bin/python3 examples/benchmark/torch_lenet.py ...
# NALGRAD_BENCH_CACHE overrides the cache folder.
set -eu
multiarch="$(uname -m)-linux-gnu"
case "$(readlink -f "/usr/lib/$multiarch/libblas.so.3" 2>/dev/null)" in
  *openblas*) ;;  # installed system-wide: nothing to add
  *)
    cache="${NALGRAD_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nalgrad-bench}/openblas"
    libraries="$cache/usr/lib/$multiarch/openblas-openmp"
    if [ ! -e "$libraries/libblas.so.3" ]; then
      mkdir -p "$cache"
      package=
      for candidate in "$cache"/libopenblas0-openmp_*.deb \
                       /var/cache/apt/archives/libopenblas0-openmp_*.deb; do
        [ -e "$candidate" ] && package=$candidate
      done
      if [ -z "$package" ]; then
        (cd "$cache" && apt-get download libopenblas0-openmp >/dev/null 2>&1) || {
          echo "openblas.sh: 'apt-get download libopenblas0-openmp' failed; installing the" \
               "package (apt-get install libopenblas0-openmp) does as well" >&2
          exit 1
        }
        package=$(echo "$cache"/libopenblas0-openmp_*.deb)
      fi
      dpkg-deb -x "$package" "$cache"
    fi
    LD_LIBRARY_PATH="$libraries${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    ;;
esac
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SkylakeX
fi
exec "$@"
