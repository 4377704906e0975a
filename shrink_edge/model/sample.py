"""The bundled Fashion-MNIST sample: the model, its weights and held-out and calibration slices."""
from ..files import package_data
from .source import ModelSource

SAMPLE_DIR = package_data("samples", "fashion_mnist")
HELDOUT = SAMPLE_DIR / "heldout.npz"          # 1,000 images of the official test set
CALIBRATION = SAMPLE_DIR / "calibration.npz"  # 512 images of the official training set


def model_source() -> ModelSource:
    return ModelSource(name="fashion_mnist", shapes=(("", (1, 1, 28, 28)),), module_file=SAMPLE_DIR / "model.py",
                       factory="build", weights=SAMPLE_DIR / "weights.safetensors")


def app_defaults() -> dict:
    """What an app needs to feed the sample: 28x28 grayscale pixels scaled to [0, 1], and the class names."""
    labels = (SAMPLE_DIR / "labels.txt").read_text().split("\n")
    return {"labels": [label for label in labels if label], "normalization": {"scale": 1 / 255, "offset": 0.0}}
