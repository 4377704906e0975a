"""What a user sees when the output is piped: the whole table (not cut at 80 columns), and on stderr none of the
converters' and runtimes' own banners (TensorFlow's absl warning, oneDNN, LiteRT's XNNPACK line), which --verbose
lets through."""
import subprocess
import sys


def export(tmp_path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shrink_edge.cli", *extra, "export", "--target", "tflite", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path)


def test_a_piped_export_shows_the_whole_table_and_no_banner(tmp_path):
    done = export(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "fashion_mnist.int8.tflite" in done.stdout and "SQNR" in done.stdout and "…" not in done.stdout


def test_verbose_lets_the_runtimes_speak(tmp_path):
    done = export(tmp_path, "--verbose")
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" in done.stderr
