"""The zoo's task metrics (zoo/tasks.py), which bench_coverage computes on every artifact of its trained models: a
perfect answer scores 1, a wrong one less; the detector's box coding and the metric's decoding agree."""
from pathlib import Path

import numpy as np
import torch
from conftest import load_model_file

tasks = load_model_file(Path(__file__).resolve().parents[2] / "zoo" / "tasks.py")


def perfect_detector_outputs(boxes: np.ndarray) -> dict:
    classes, codes = tasks._detector_targets(boxes)
    scores = torch.nn.functional.one_hot(classes, 1 + len(tasks.KINDS)).float() * 10
    return {"boxes": codes.numpy(), "scores": scores.numpy()}


def shape_boxes(n: int) -> np.ndarray:
    """(n, 5): class 1..3 and a box x0, y0, x1, y1 of 20-64 pixels inside the 128x128 image, as shapes() gives."""
    rng = np.random.default_rng(0)
    size = rng.integers(20, 65, (n, 2))
    corner = rng.integers(0, 128 - size + 1)
    return np.concatenate([rng.integers(1, 4, (n, 1)), corner, corner + size], 1).astype(np.float32)


def test_detection_metric_decodes_what_training_codes():
    boxes = shape_boxes(40)
    outputs = perfect_detector_outputs(boxes)
    found = tasks.detection(outputs, boxes)
    assert found["found@0.5"] == 1.0 and found["mean_iou"] > 0.99
    wrong = boxes.copy()
    wrong[:, 0] = wrong[:, 0] % 3 + 1  # another class
    assert tasks.detection(outputs, wrong)["found@0.5"] == 0.0


def test_segmentation_and_pitch_metrics():
    masks = np.random.default_rng(1).integers(0, 3, (4, 128, 128))
    logits = np.eye(3, dtype=np.float32)[masks].transpose(0, 3, 1, 2)
    assert tasks.segmentation({"mask": logits}, masks)["mean_iou"] == 1.0
    assert tasks.segmentation({"mask": logits}, np.zeros_like(masks))["mean_iou"] == 0.0
    _, hz = tasks.tones(8, seed=2)
    cents = 1200 * np.log2(hz / tasks.LOW_HZ)
    activation = np.exp(-0.5 * ((np.arange(tasks.BINS) * tasks.BIN_CENTS - cents[:, None]) / tasks.BIN_CENTS) ** 2)
    assert tasks.pitch({"bins": activation}, hz)["rpa_50c"] == 1.0
    assert tasks.pitch({"bins": np.roll(activation, 2, axis=1)}, hz)["rpa_50c"] < 0.5
