"""--metric: the user's own task metric on the reference's and each artifact's outputs, with a budget on its drop."""
import json

import numpy as np
from conftest import run_cli

METRIC = '''
import numpy as np
def top1(outputs, labels):
    return float((outputs["scores"].argmax(1) == labels).mean())
def both(outputs, labels):
    norms = np.linalg.norm(outputs["embedding"], axis=1)
    return {"top1": top1(outputs, labels), "mean_norm": float(norms.mean())}
def embedding_error(outputs, labels):
    return -float(np.abs(outputs["embedding"][:, :4] - labels).mean())
def broken(outputs, labels):
    return outputs["no such output"]
'''


def export(tmp_path, two_heads, *extra):
    (tmp_path / "metric.py").write_text(METRIC)
    return run_cli("export", "--target", "onnx", "--model", two_heads["model"], "--weights", two_heads["weights"],
                   "--data", two_heads["labelled"], "--out", tmp_path / "out", *extra)


def test_metric_is_computed_on_the_reference_and_every_artifact(tmp_path, two_heads):
    result = export(tmp_path, two_heads, "--metric", f"{tmp_path / 'metric.py'}:top1", "--json")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["reference"]["task"]["top1"] == manifest["reference"]["accuracy"]
    for artifact in manifest["artifacts"]:
        assert artifact["metrics"]["task"]["top1"] == artifact["metrics"]["accuracy"]


def test_named_values_and_a_budget_on_their_drop(tmp_path, two_heads):
    result = export(tmp_path, two_heads, "--metric", f"{tmp_path / 'metric.py'}:both", "--max-metric-drop", "-1",
                    "--strict")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "onnx onnx-int8: top1" in result.stderr and "mean_norm" in result.stderr and "> -1 allowed" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_failing_metric_is_one_line(tmp_path, two_heads):
    result = export(tmp_path, two_heads, "--metric", f"{tmp_path / 'metric.py'}:broken")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert "metric" in result.stderr and "broken failed: KeyError" in result.stderr


def test_labels_that_are_not_class_ids_reach_the_metric(tmp_path, two_heads):
    """Labels of another shape (here: a target for four embedding values, as masks or boxes would be) go to the
    metric as they are; no top-1 is claimed from them."""
    with np.load(two_heads["unlabelled"]) as data:
        arrays = dict(data)
    targets = np.random.default_rng(0).normal(size=(len(arrays["image"]), 4)).astype(np.float32)
    np.savez(tmp_path / "targets.npz", **arrays, y=targets)
    (tmp_path / "metric.py").write_text(METRIC)
    result = run_cli("export", "--target", "onnx", "--model", two_heads["model"], "--weights", two_heads["weights"],
                     "--data", tmp_path / "targets.npz", "--out", tmp_path / "out", "--json",
                     "--metric", f"{tmp_path / 'metric.py'}:embedding_error")
    assert result.exit_code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["reference"]["accuracy"] is None and manifest["reference"]["task"]["embedding_error"] < 0
    for artifact in manifest["artifacts"]:
        assert artifact["metrics"]["accuracy"] is None
        assert abs(artifact["metrics"]["task"]["embedding_error"] - manifest["reference"]["task"]["embedding_error"]) < 0.05
