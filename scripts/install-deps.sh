#!/usr/bin/env bash
# Install the Debian 12 packages dln needs, only those that are missing.
#   scripts/install-deps.sh          build, test and figure dependencies
#   scripts/install-deps.sh --bench  also the peers of the benchmark (SciPy, PyTorch)
#   scripts/install-deps.sh --slurm  also Slurm and munge (tests/slurm_test.sh, docs/slurm.md)
#   scripts/install-deps.sh --notebook  also Jupyter's nbclient, nbformat and ipykernel (the
#                                    Python notebook test runs examples/python/*.ipynb with them)
# Flags combine (--bench --notebook).
# Run as root (or with sudo available). Does nothing when everything is present.
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libopenblas-dev liblapacke-dev libsundials-dev libjansson-dev libgsl-dev libcmocka-dev libxsmm-dev nettle-dev
      python3-numpy python3-matplotlib
      python3-cffi) # the Python package `import dln` (docs/python.md)
pkgs+=(libopenmpi-dev openmpi-bin) # the MPI build of dln sweep (docs/mpi.md)
pkgs+=(libblis4-pthread) # the blis gemm backend, loaded at run time (--blas_backend, src/core/gemm.c)
for flag in "$@"; do
  case "$flag" in
    --bench) pkgs+=(python3-scipy python3-torch) ;;
    --slurm) pkgs+=(slurm-wlm munge) ;;
    --notebook) pkgs+=(python3-nbclient python3-nbformat python3-ipykernel) ;;
    *) echo "usage: scripts/install-deps.sh [--bench] [--slurm] [--notebook]" >&2; exit 64 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
