#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with torch (CPU) installed first, so nothing
# can pull a newer CUDA build, then shrink-edge and its pinned tools. Also installs Debian's Fashion-MNIST
# files, which retraining the sample and the full-test-set benchmarks read (the default run does not).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, as root: the Fashion-MNIST files; adb and a real adbd (bookworm-backports), qemu-user 10
# (backports; bookworm's 7.2 crashes LiteRT and onnxruntime) and mmdebstrap for the emulated arm64 phone.
needs_apt() { [ ! -d /usr/share/datasets/fashion-mnist ] || [ ! -x /usr/sbin/adbd ] \
  || ! command -v mmdebstrap >/dev/null || [ ! -x /usr/bin/qemu-aarch64-static ]; }
if ! needs_apt; then
  :
elif command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
      /usr/share/keyrings/debian-archive-keyring.gpg > /etc/apt/sources.list.d/bookworm-backports.sources
  fi
  (apt-get update -qq \
   && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist mmdebstrap iproute2 \
   && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports adb adbd qemu-user-static) \
    >/dev/null || echo "setup: could not install the Debian packages; device tests and benchmarks will skip" >&2
else
  echo "setup: as root, apt-get install dataset-fashion-mnist mmdebstrap and (bookworm-backports) adb adbd" \
       "qemu-user-static for the full-test-set benchmarks and the device tests" >&2
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[all,dev]"
# ExecuTorch's Arm backend (the executorch-ethos-u55 target) needs TOSA's serializer and reference model. tosa-tools
# pins numpy < 2.2 on Python 3.11 and ours is 2.4, which it runs with: installed without its dependencies into a
# folder of its own that shrink_edge/backends/executorch/arm.py puts on the path when a lowering needs it.
[ -d .venv/tosa-tools/tosa_serializer ] \
  || .venv/bin/python -m pip install -q --no-deps --target .venv/tosa-tools tosa-tools==2026.5.0
.venv/bin/python -m pip check
