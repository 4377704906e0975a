"""OpenVINO IR from the QDQ ONNX: runs its convolutions in int8 and agrees with the QAT reference."""


def test_compute_layers_run_in_int8(all_targets):
    out, _, artifacts = all_targets
    ir = out / artifacts["openvino-int8"]["file"]
    assert (ir / "model.xml").is_file() and (ir / "model.bin").is_file()
    facts = artifacts["openvino-int8"]["facts"]
    assert facts["int8_compute_layers"] >= 5  # TinyNet: 4 convolutions and the classifier
    assert facts["float_compute_layers"] == []


def test_agrees_with_the_qat_reference(all_targets):
    # OpenVINO rounds its int8 pipeline differently from PyTorch's simulation: looser than LiteRT/onnxruntime
    metrics = all_targets[2]["openvino-int8"]["metrics"]
    assert metrics["agreement"] >= 0.95 and metrics["error_lsb_p99"] <= 2 and metrics["max_error_lsb"] <= 6
