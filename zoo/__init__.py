"""Real architectures, written here (torchvision cannot be installed beside torch 2.13), that every target is tried
on: `scripts/bench_coverage.py` runs each through every target and `tests/test_zoo.py` a fast subset. Each module
has `build()` and `INPUTS`: input name -> (shape, dtype), batch first."""
