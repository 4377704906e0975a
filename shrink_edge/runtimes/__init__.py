"""Each artifact runs in its real runtime: runtime name -> predict(path, x) -> outputs."""
from . import onnxruntime_runner

PREDICT = {
    "onnxruntime": onnxruntime_runner.predict,
}
