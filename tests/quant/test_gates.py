"""Gates in int8 (quant/gates.py): SiLU, hardswish, PReLU, a late batch norm and squeeze-excite's (hard) sigmoid,
its pool and multiply run in each runtime's int8 kernels, not as float islands between dequantize and quantize
(OpenVINO's in float again, fused into their convolutions: openvino/gates.py); onnxruntime reads the hard sigmoid's
scalars quantized and its 1/6 folded into a scale, ExecuTorch's XNNPACK the hardswish and PReLU whole; every file
still verifies."""
import json

import numpy as np
import onnx
import openvino
from conftest import TESTS, fused_ops, run_cli


def exported(model: str, targets: list[str], tiny_model, tmp_path, float_ops=None) -> dict:
    """The artifacts of tests/models/<model> exported to these targets together, by format; each verified at
    cosine >= 0.99 and the onnx and tflite int8 files with no float op (but those `float_ops` gives, by format)."""
    group = tmp_path / "group.toml"
    group.write_text(f'description = "a group"\ninclude = {json.dumps(targets)}\n')
    result = run_cli("export", "--target", group, "--model", f"{TESTS / 'models' / model}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out",
                     "--no-budget", "--json")
    assert result.exit_code == 0, result.stderr
    artifacts = {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}
    for name in {"onnx-int8", "tflite-int8"} & set(artifacts):
        assert artifacts[name]["facts"]["float_ops"] == (float_ops or {}).get(name, []), artifacts[name]["facts"]
    for name, artifact in artifacts.items():
        assert artifact["metrics"]["cosine"] >= 0.99, (name, artifact["metrics"])
    return artifacts


def test_silu_hardswish_and_squeeze_excite_gates_run_in_int8(tiny_model, tmp_path):
    """Was: Sigmoid x2 Mul x3 HardSigmoid x2 GlobalAveragePool (onnxruntime), LOGISTIC x2 MUL x3 HARD_SWISH ADD MUL
    MEAN (LiteRT) in float."""
    artifacts = exported("gated_net.py", ["onnx", "tflite", "openvino", "executorch"], tiny_model, tmp_path)
    path = tmp_path / "out" / artifacts["onnx-int8"]["file"]
    ops = fused_ops(path)
    # the hard sigmoids' multiplies by 1/6 folded into scales: a QLinearMul per SiLU, hardswish and gate (5)
    assert ops["QLinearMul"] == 5 and sum(n.op_type == "Mul" for n in onnx.load(path).graph.node) == 5, ops
    executorch = artifacts["executorch-int8"]["facts"]
    assert executorch["undelegated_ops"] == {} and executorch["xnnpack_nodes"].get("Hardswish") == 1, executorch
    # OpenVINO's IR: each gate in float on its convolution's float output (fused there as a post-op), no FakeQuantize
    # before it; the SiLUs and the hardswish whole, the squeeze-excite gates' outputs read in float
    ir = openvino.Core().read_model(tmp_path / "out" / artifacts["openvino-int8"]["file"] / "model.xml")
    gates = [op for op in ir.get_ordered_ops() if op.get_type_name() in ("Swish", "HSwish", "Sigmoid", "HardSigmoid")]
    assert sorted(op.get_type_name() for op in gates) == ["HSwish", "HardSigmoid", "Sigmoid", "Swish", "Swish"]
    assert {i.get_source_output().get_node().get_type_name() for op in gates for i in op.inputs()} <= {"Add",
                                                                                                       "Constant"}
    assert {t.get_node().get_type_name() for op in gates if "Sigmoid" in op.get_type_name()
            for t in op.output(0).get_target_inputs()} == {"Multiply"}


def test_prelu_runs_in_int8_and_whole_on_executorch(tiny_model, tmp_path):
    """PReLU after convolutions and after a linear layer: int8 steps on onnxruntime and LiteRT (was PRelu x3 /
    DEQUANTIZE, RELU, MUL, SUB in float), one PReLU again in ExecuTorch's XNNPACK delegate."""
    artifacts = exported("prelu_net.py", ["onnx", "tflite", "executorch"], tiny_model, tmp_path)
    assert artifacts["executorch-int8"]["facts"]["xnnpack_nodes"].get("PReLU") == 3, artifacts["executorch-int8"]


def test_batch_norm_after_relu_runs_in_int8(tiny_model, tmp_path):
    """A batch norm no layer absorbs: an int8 multiply and add on onnxruntime and LiteRT (was BatchNormalization x2 /
    DEQUANTIZE, SUB, MUL, ADD in float)."""
    artifacts = exported("late_norm_net.py", ["onnx", "tflite"], tiny_model, tmp_path)
    assert {"onnx-int8", "tflite-int8"} <= set(artifacts)


def test_concatenations_and_resizes_run_in_int8(tiny_model, tmp_path):
    """Skip connections after nearest and bilinear upsampling (quant/data_movement.py): int8 concatenations and
    resizes on onnxruntime and LiteRT (was Resize x2, Concat x2 in float on onnxruntime; its QDQ fusion takes a
    nearest Resize only, so the bilinear one stays float there); ExecuTorch's too (the zoo's U-Net: its XNNPACK
    delegate concatenated in float, the skip's int8 converted to float before and the result back after)."""
    artifacts = exported("skip_net.py", ["onnx", "tflite", "openvino", "executorch"], tiny_model, tmp_path,
                         float_ops={"onnx-int8": ["Resize"]})
    ops = fused_ops(tmp_path / "out" / artifacts["onnx-int8"]["file"])
    assert ops["QLinearConcat"] == 2 and ops["Resize"] == 2, ops
    # OpenVINO: the concatenation after the nearest upsampling reads its inputs quantized, with no FakeQuantize
    # after it (backends/openvino/ir.py); the bilinear one's upsampled values lie between grid steps
    ir = openvino.Core().read_model(tmp_path / "out" / artifacts["openvino-int8"]["file"] / "model.xml")
    after = [{t.get_node().get_type_name() for t in op.output(0).get_target_inputs()} for op in ir.get_ops()
             if op.get_type_name() == "Concat"]
    assert sorted(after, key=sorted) == [{"Convolution"}, {"FakeQuantize"}], after


def test_a_batch_norm_after_a_layer_others_read_is_split_not_folded(tiny_model, tmp_path):
    """A pre-activation block: the stem's output feeds a batch norm and the shortcut. prepare_pt2e folded the batch
    norm into the stem, so the shortcut read normalized values (cosine 0.60, -1.1 dB); split, it runs as an int8
    multiply and add (`exported` checks cosine >= 0.99 and no float op)."""
    artifacts = exported("preact_net.py", ["onnx", "tflite"], tiny_model, tmp_path)
    assert all(a["metrics"]["sqnr_db"] > 30 for a in artifacts.values() if a["format"].endswith("int8")), artifacts


def test_a_relu_on_a_layer_others_read_runs_in_int8(tiny_model, tmp_path):
    """litert-torch quantized the convolution and its ReLU once, after the ReLU, though the concatenation reads the
    convolution too: it ran in float on onnxruntime (Conv) and LiteRT (DEQUANTIZE, CONV_2D, RELU, QUANTIZE x2),
    and ExecuTorch refused the program (its XNNPACK delegate left the convolution out; no portable
    dequantize_per_channel)."""
    artifacts = exported("shared_relu_net.py", ["onnx", "tflite", "executorch"], tiny_model, tmp_path)
    assert artifacts["executorch-int8"]["facts"]["undelegated_ops"] == {}, artifacts["executorch-int8"]["facts"]


def test_pads_run_on_quantized_values(tiny_model, tmp_path):
    """A zero pad and a reflection pad between int8 layers read and write their input's grid
    (quant/data_movement.py); onnxruntime pads the int8 values, zeros with the zero point (shared/qdq.pads_quantized;
    it kept DequantizeLinear -> Pad -> QuantizeLinear in float: a temporal convolution net's int8 file 0.029 ms
    against 0.026 float, now 0.024; a style-transfer net's reflection pads 2.32 -> 2.08 ms), and OpenVINO reads each
    Pad between two FakeQuantizes again (shared/qdq.quantized_moves_dequantized; from the int8 Pad its frontend made
    explicit dequantizing arithmetic)."""
    artifacts = exported("padded_net.py", ["onnx", "openvino"], tiny_model, tmp_path)  # onnx: no float op
    ir = openvino.Core().read_model(tmp_path / "out" / artifacts["openvino-int8"]["file"] / "model.xml")
    pads = [op for op in ir.get_ops() if op.get_type_name() == "Pad"]
    assert sorted(str(pad.get_attributes()["pad_mode"]) for pad in pads) == ["constant", "reflect"], pads
    for pad in pads:
        assert pad.input_value(0).get_node().get_type_name() == "FakeQuantize"
        assert {t.get_node().get_type_name() for t in pad.output(0).get_target_inputs()} == {"FakeQuantize"}


def test_a_concatenation_with_a_class_token_stays_float(tmp_path):
    """The zoo's ViT-tiny: its class token concatenated in int8 made an XNNPACK program ExecuTorch 1.5.1 could not
    load (error 0x1); a concatenation that reads a parameter stays float."""
    import numpy as np

    np.savez(tmp_path / "images.npz", image=np.random.default_rng(0).random((8, 3, 32, 32), dtype=np.float32))
    result = run_cli("export", "--target", "executorch", "--model", f"{TESTS.parent / 'zoo' / 'transformers.py'}:build",
                     "--input-shape", "1,3,32,32", "--data", tmp_path / "images.npz", "--out", tmp_path / "out",
                     "--no-budget", "--json")
    assert result.exit_code == 0, result.stderr
    [int8] = [a for a in json.loads(result.stdout)["artifacts"] if a["format"] == "executorch-int8"]
    assert int8["metrics"]["sqnr_db"] > 15, int8["metrics"]


def test_a_sigmoid_writes_tflites_fixed_grid(tiny_model, tmp_path):
    """A sigmoid whose input litert-torch leaves unquantized (a slice) is quantized by gates.py on TFLite's fixed
    sigmoid grid (1/256 from 0), which TFLite Micro's int8 kernel assumes: on a calibrated grid a YOLO-style head's
    scores were at 6.4 dB in TFLite Micro against 58.6 in LiteRT, from the same file (this head's: 7.9 and 55.6)."""
    images = tmp_path / "images.npz"  # no labels: no output holds class scores for them
    np.savez(images, x=np.load(tiny_model["data"])["x"])
    artifacts = exported("sliced_heads.py", ["tflite", "cortex-m4"], {"data": images}, tmp_path)
    litert, micro = (artifacts[name]["metrics"]["outputs"]["output_1"]["sqnr_db"] for name in ("tflite-int8", "tflm"))
    assert litert > 40 and abs(litert - micro) < 1, (litert, micro)  # before: 55.6 and 7.9 dB


def test_a_glu_runs_in_int8(tiny_model, tmp_path):
    """A GLU (Conformer's convolution module) is split into its halves, a sigmoid and a multiply, each quantized:
    whole, it ran as Split, Sigmoid and Mul in float on onnxruntime and LOGISTIC in float on LiteRT."""
    artifacts = exported("glu_net.py", ["onnx", "tflite"], tiny_model, tmp_path,  # the input's row select
                         float_ops={"onnx-int8": ["Gather"]})  # before its first quantize: a copy
    assert fused_ops(tmp_path / "out" / artifacts["onnx-int8"]["file"])["QLinearSigmoid"] == 2  # the GLU's, SiLU's


def test_splits_and_shuffles_run_in_int8(tiny_model, tmp_path):
    """A YOLOv8 C2f block's chunk, a ShuffleNet channel shuffle and an uneven split (quant/data_movement.py): each
    part and rearrangement read on its input's grid, so onnxruntime splits and shuffles int8 values (its Split stayed
    float between a dequantize and quantizes of another grid, the shuffle's Reshape and Transpose float), and
    ExecuTorch's XNNPACK delegate takes the parts as slices (backends/executorch/slices.py; split_with_sizes_copy ran
    on the portable kernels, outside the delegate, in the float file too)."""
    artifacts = exported("split_net.py", ["onnx", "tflite", "executorch"], tiny_model, tmp_path)
    for name in ("executorch", "executorch-int8"):
        assert artifacts[name]["facts"]["undelegated_ops"] == {}, artifacts[name]["facts"]


def test_shifted_windows_convert_on_every_runtime_and_move_int8_values(tiny_model, tmp_path):
    """Swin-style shifted windows: a roll, a 6-D reshape and permute of a quantized value, all on its grid
    (quant/data_movement.py). Core ML quantizes no tensor of more than five dimensions ("Core ML only supports
    tensors with rank <= 5"): its export drops those quantize/dequantize pairs, which round nothing there. The roll
    exports to ONNX as two slices and a concatenation per axis, a chain onnxruntime ran in float
    (shared/qdq.moves_quantized); ExecuTorch ran its decomposition and the channels-last mean on the portable kernels
    (executorch/slices.rolls_as_slices, lower.means_kept). The mask, built from arange at every call, still runs
    there."""
    group = tmp_path / "group.toml"
    group.write_text('description = "a group"\ninclude = ["onnx", "tflite", "coreml", "executorch"]\n')
    result = run_cli("export", "--target", group, "--model", f"{TESTS / 'models' / 'window_net.py'}:build",
                     "--input-shape", "1,1,28,28", "--data", tiny_model["data"], "--out", tmp_path / "out",
                     "--no-budget", "--json")
    assert result.exit_code == 0, result.stderr
    artifacts = {a["format"]: a for a in json.loads(result.stdout)["artifacts"]}
    assert {"onnx-int8", "tflite-int8", "coreml-int8", "executorch-int8"} <= set(artifacts), result.stderr
    assert all(a["metrics"]["cosine"] >= 0.99 for a in artifacts.values() if a["metrics"]), artifacts
    moved = {"Slice", "Concat", "Split", "Reshape", "Transpose"}
    assert not moved & {op.split()[0] for op in artifacts["onnx-int8"]["facts"]["float_ops"]}, artifacts["onnx-int8"]
    for name in ("executorch", "executorch-int8"):
        outside = artifacts[name]["facts"]["undelegated_ops"]
        assert not {"aten::index_select.out", "aten::fmod.Scalar_out", "aten::mean.out"} & set(outside), outside
