"""The metadata an app needs beside the model: I/O names, shapes, dtypes, quantization, normalization, labels,
and the hashes and versions from the run's manifest."""
from __future__ import annotations

from pathlib import Path

from .errors import UserError


def read_labels(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    try:
        return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError as e:
        raise UserError(f"cannot read labels {path}: {e.strerror}; give a text file with one label per line") from None


def _tflite_io(path: Path) -> dict:
    from .runtimes.litert_runner import inspector

    interpreter = inspector(path)

    def describe(details):
        return [{"name": d["name"], "shape": [int(v) for v in d["shape"]], "dtype": d["dtype"].__name__,
                 "scale": float(d["quantization"][0]), "zero_point": int(d["quantization"][1])} for d in details]

    return {"inputs": describe(interpreter.get_input_details()), "outputs": describe(interpreter.get_output_details())}


def _coreml_io(path: Path) -> dict:
    import coremltools as ct

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()

    def describe(features):
        return [{"name": f.name, "shape": [int(v) for v in f.type.multiArrayType.shape],
                 "dtype": ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(
                     f.type.multiArrayType.dataType).lower(), "scale": None, "zero_point": None} for f in features]

    return {"inputs": describe(spec.description.input), "outputs": describe(spec.description.output)}


def build(artifact: dict, manifest: dict, path: Path, labels: list[str] | None,
          normalization: dict | None) -> dict:
    io = _tflite_io(path) if artifact["format"] == "tflite-int8" else _coreml_io(path)
    return {
        "model": artifact["file"], "format": artifact["format"], "sha256": artifact["sha256"],
        **io,
        # the app computes input = raw * scale + offset before quantizing (null: feed what the model was trained on)
        "normalization": normalization,
        "labels": labels,
        "verification": artifact["metrics"],
        "run_key": manifest["run_key"], "inputs_sha256": manifest["inputs"], "versions": manifest["versions"],
    }
