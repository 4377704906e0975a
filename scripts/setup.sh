#!/usr/bin/env bash
# Set up a fresh machine: a virtual environment in .venv with torch (CPU) installed first, so nothing
# can pull a newer CUDA build, then shrink-edge and its pinned tools. Also installs Debian's Fashion-MNIST
# files, which retraining the sample and the full-test-set benchmarks read (the default run does not).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null \
      || echo "setup: could not install dataset-fashion-mnist; only retraining and benchmarks need it" >&2
  else
    echo "setup: run 'sudo apt-get install dataset-fashion-mnist' for retraining and benchmarks" >&2
  fi
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/python -m pip check
