"""The metadata an app needs beside the model: I/O names, shapes, dtypes, quantization, normalization, labels,
and the hashes and versions from the run's manifest."""
from __future__ import annotations

from pathlib import Path

from ..errors import UserError


def read_labels(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    try:
        return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError as e:
        raise UserError(f"cannot read labels {path}: {e.strerror}; give a text file with one label per line") from None


def _tflite_io(path: Path, signature: dict) -> dict:
    """Inputs and outputs by their signature names (what LiteRT's runSignature takes), in the model's order."""
    from ..backends.litert.session import inspector, io_details

    inputs, outputs = io_details(inspector(path))

    def describe(details: dict, order: list[str]):
        names = [n for n in order if n in details] + [n for n in details if n not in order]
        return [{"name": n, "tensor": details[n]["name"], "shape": [int(v) for v in details[n]["shape"]],
                 "dtype": details[n]["dtype"].__name__, "scale": float(details[n]["quantization"][0]),
                 "zero_point": int(details[n]["quantization"][1])} for n in names]

    return {"inputs": describe(inputs, [i["name"] for i in signature.get("inputs", [])]),
            "outputs": describe(outputs, list(signature.get("outputs", [])))}


def _coreml_io(path: Path) -> dict:
    import coremltools as ct

    spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()

    def describe(features):
        return [{"name": f.name, "shape": [int(v) for v in f.type.multiArrayType.shape],
                 "dtype": ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType.Name(
                     f.type.multiArrayType.dataType).lower(), "scale": None, "zero_point": None} for f in features]

    return {"inputs": describe(spec.description.input), "outputs": describe(spec.description.output)}


def _pte_io(path: Path, signature: dict) -> dict:
    """A .pte keeps no names: the signature's, in the program's order; shapes and dtypes from the program."""
    from ..backends.executorch.lower import quiet
    from ..backends.executorch.timing import DTYPES

    with quiet():
        from executorch.runtime import Runtime

        meta = Runtime.get().load_program(str(path)).metadata("forward")  # no delegate loaded: Core ML's too

    def describe(infos, names):
        return [{"name": name, "shape": [int(v) for v in info.sizes()], "dtype": DTYPES.get(int(info.dtype()), "?"),
                 "scale": None, "zero_point": None} for name, info in zip(names, infos)]

    return {"inputs": describe([meta.input_tensor_meta(i) for i in range(meta.num_inputs())],
                               [i["name"] for i in signature.get("inputs", [])]),
            "outputs": describe([meta.output_tensor_meta(i) for i in range(meta.num_outputs())],
                                list(signature.get("outputs", [])))}


def build(artifact: dict, manifest: dict, path: Path, labels: list[str] | None,
          normalization: dict | None) -> dict:
    signature = manifest.get("signature", {})
    tflite, coreml = (lambda: _tflite_io(path, signature)), (lambda: _coreml_io(path))
    readers = {"tflite-int8": tflite, "tflite-dynamic": tflite, "tflite-fp16": tflite,
               "coreml-int8": coreml, "coreml-fp16": coreml,
               "executorch-int8": lambda: _pte_io(path, signature),
               "executorch-coreml-int8": lambda: _pte_io(path, signature)}
    io = readers[artifact["format"]]()
    return {
        "model": artifact["file"], "format": artifact["format"], "sha256": artifact["sha256"],
        **io,
        # the app computes input = raw * scale + offset before quantizing (null: feed what the model was trained on)
        "normalization": normalization,
        "labels": labels,
        "class_output": signature.get("class_output"),  # the output the labels name the classes of
        "verification": artifact["metrics"],
        "run_key": manifest["run_key"], "inputs_sha256": manifest["inputs"], "versions": manifest["versions"],
    }
