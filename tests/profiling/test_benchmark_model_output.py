"""TFLite's benchmark_model text, as stock phones print it, read into figures (both output generations)."""
from pathlib import Path

import pytest

from shrink_edge.profiling.devices import benchmark_model
from shrink_edge.errors import DeviceError

DATA = Path(__file__).parents[1] / "data" / "benchmark_model"


def test_plain_output():
    figures = benchmark_model.parse((DATA / "plain.txt").read_text())
    assert figures["runs"] == 50  # the timed runs, not the warm-up line
    assert figures["avg_ms"] == pytest.approx(0.34172) and figures["min_ms"] == pytest.approx(0.309)
    assert figures["max_ms"] == pytest.approx(1.2044)  # exponent form
    assert figures["init_ms"] == pytest.approx(4.21) and figures["first_ms"] == pytest.approx(0.912)
    assert figures["p50_ms"] is None and figures["memory_mb"] == pytest.approx(2.60938)


def test_info_prefixed_output_with_percentiles():
    figures = benchmark_model.parse((DATA / "info_prefixed.txt").read_text())
    assert figures["runs"] == 50 and figures["p50_ms"] == pytest.approx(0.286)
    assert figures["p95_ms"] == pytest.approx(0.412) and figures["memory_mb"] == pytest.approx(3.125)


def test_output_without_timings_names_the_last_line():
    with pytest.raises(DeviceError, match="gave no timings: ERROR: Could not open"):
        benchmark_model.parse("STARTING!\nERROR: Could not open '/data/local/tmp/m.tflite'.\n")
