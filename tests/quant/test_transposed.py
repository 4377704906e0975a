"""Transposed convolutions and tanh in int8 (quant/transposed.py, quant/gates.py), on an ESPCN-style net."""
import numpy as np
import onnx
from onnx import numpy_helper

from test_gates import exported


def test_a_transposed_convolution_has_int8_weights_and_tanh_its_fixed_grid(tiny_model, tmp_path):
    """The transposed convolution's weights int8, one scale per output channel (axis 1): its file was float before
    (onnxruntime and LiteRT still run it in float: their converters' limit), and ExecuTorch's XNNPACK delegate runs
    it whole. The tanh writes TFLite's fixed grid (1/128): with a calibrated one TFLite Micro's int8 kernel, which
    assumes it, gave 11.4 dB where LiteRT gave 40.4. The pixel shuffle reads and writes its input's grid
    (quant/data_movement.py): onnxruntime's DepthToSpace ran in float between a dequantize and a quantize."""
    images = tmp_path / "images.npz"  # no labels: the net returns images
    np.savez(images, x=np.load(tiny_model["data"])["x"])
    artifacts = exported("upsampling_net.py", ["onnx", "tflite", "cortex-m4", "executorch"], {"data": images}, tmp_path,
                         float_ops={"onnx-int8": ["Tanh", "ConvTranspose"],
                                    "tflite-int8": ["DEQUANTIZE", "TRANSPOSE_CONV", "QUANTIZE"]})
    graph = onnx.load(tmp_path / "out" / artifacts["onnx-int8"]["file"]).graph
    produced = {o: n for n in graph.node for o in n.output}
    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    [transposed] = [n for n in graph.node if n.op_type == "ConvTranspose"]
    weights = produced[transposed.input[1]]
    axis = next(a.i for a in weights.attribute if a.name == "axis")
    assert weights.op_type == "DequantizeLinear" and constants[weights.input[0]].dtype.name == "int8" and axis == 1
    litert, micro = artifacts["tflite-int8"]["metrics"], artifacts["tflm"]["metrics"]
    assert abs(litert["sqnr_db"] - micro["sqnr_db"]) < 1, (litert, micro)
    assert artifacts["executorch-int8"]["facts"]["undelegated_ops"] == {}
