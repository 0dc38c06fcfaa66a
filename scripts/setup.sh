#!/usr/bin/env bash
# setup.sh - install squeeze's Debian 12 packages (idempotent) and build it.
#
#   scripts/setup.sh            install what is missing, configure and build into build/
#   SQ_SKIP_INSTALL=1 ...       build only (no apt)
#   SQ_BUILD_DIR=dir ...        build somewhere else
#   SQ_SANITIZE=1 ...           build with ASan+UBSan
#
# Packages for the tests that need them (Slurm, Chromium, h5py; clang with
# libFuzzer and valgrind for scripts/test.sh's CI checks) are installed
# too, so that a fresh machine runs the whole suite after this one script.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin
  libhdf5-dev hdf5-tools
  libyaml-dev check libsubunit-dev libjansson-dev libopenblas-dev libzip-dev libssl-dev libpcre2-dev libutf8proc-dev
  python3 python3-h5py python3-numpy
  munge slurmctld slurmd slurm-client
  chromium
  clang libclang-rt-14-dev valgrind)

if [ "${SQ_SKIP_INSTALL:-0}" != 1 ]; then
  missing=()
  for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "[setup] installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# npm packages of the reference checks (tests/js: llama.cpp through node-llama-cpp's prebuilt CPU
# libraries, @huggingface/gguf), project-local and pinned by tests/js/package-lock.json. They need
# Node.js >= 20 (Debian 12's nodejs is 18). NODE_LLAMA_CPP_SKIP_DOWNLOAD stops node-llama-cpp from
# fetching or compiling llama.cpp: the prebuilt @node-llama-cpp/linux-x64 is what runs.
if [ "${SQ_SKIP_INSTALL:-0}" != 1 ] || [ "${SQ_NPM_INSTALL:-0}" = 1 ]; then
  if command -v npm >/dev/null 2>&1 &&
     node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
    (cd tests/js && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --omit=optional --no-audit --no-fund --loglevel=error)
  else
    echo "[setup] no Node.js >= 20 with npm: the live llama.cpp checks (tests/js) are not installed;" \
         "their committed outputs (tests/data/gguf) are still checked" >&2
  fi
fi

BUILD=${SQ_BUILD_DIR:-build}
SANITIZE=OFF
[ "${SQ_SANITIZE:-0}" = 1 ] && SANITIZE=ON
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSQUEEZE_SANITIZE="$SANITIZE" >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
echo "[setup] built into $BUILD/" >&2
