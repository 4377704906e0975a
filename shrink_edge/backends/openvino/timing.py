"""Timing OpenVINO IR (model.xml or its folder), for the profiler's runner (standalone: numpy and the runtime
only). Each input tensor is set once: a new tensor per call costs OpenVINO 110-180 µs."""
from pathlib import Path

RUNTIME = "openvino"
PACKAGE = "openvino"


def claims(path: Path) -> bool:
    return path.suffix == ".xml" or (path / "model.xml").is_file()


def load(path: Path, threads: int, random_input):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path / "model.xml" if path.is_dir() else path)), "CPU",
                                  {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    for i, port in enumerate(compiled.inputs):
        shape = [d.get_length() if d.is_static else 1 for d in port.get_partial_shape()]
        request.set_input_tensor(i, ov.Tensor(random_input(shape, port.get_element_type().to_dtype(), False)))
    return request.infer
