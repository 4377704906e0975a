"""Each artifact runs in its real runtime: runtime name -> predict(path, inputs by name) -> outputs by name."""
from . import coreml_runner, ethos_u_runner, litert_runner, onnxruntime_runner, openvino_runner, tflm_runner

PREDICT = {
    "onnxruntime": onnxruntime_runner.predict,
    "litert": litert_runner.predict,
    "tflm": tflm_runner.predict,
    "openvino": openvino_runner.predict,
    "coreml": coreml_runner.predict,
    "ethos-u": ethos_u_runner.predict,
}

# What else a runtime can tell about an artifact (memory, precision), for budgets and the manifest.
FACTS = {
    "litert": litert_runner.facts,
    "tflm": tflm_runner.facts,
    "openvino": openvino_runner.facts,
    "coreml": coreml_runner.facts,
    "ethos-u": ethos_u_runner.facts,
}
