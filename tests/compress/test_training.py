"""Distillation fine-tuning: it learns from the teacher, with labels or from the teacher's outputs alone, is
deterministic, resumes, and refuses tiny data."""
import numpy as np
import pytest
import torch
from conftest import load_tiny_module

from shrink_edge.model.data import Dataset
from shrink_edge.errors import UserError
from shrink_edge.progress import Steps
from shrink_edge.config.settings import DistillSettings
from shrink_edge.compress.training import distill

SETTINGS = DistillSettings(epochs=2, batch_size=32, lr=3e-3, holdout=0.1, patience=5)


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return Dataset({"x": rng.random((n, 1, 28, 28), dtype=np.float32)}, rng.integers(0, 10, n))


def teacher_and_data():
    torch.manual_seed(1)
    teacher = load_tiny_module().build().eval()
    d = data()
    with torch.no_grad():  # labels the teacher agrees with, so there is something to learn
        y = teacher(torch.from_numpy(d.inputs["x"])).argmax(1).numpy()
    return teacher, Dataset(d.inputs, y)


def agreement(a, b, x):
    with torch.no_grad():
        return float((a(x).argmax(1) == b(x).argmax(1)).float().mean())


def test_student_learns_from_teacher():
    teacher, d = teacher_and_data()
    torch.manual_seed(2)
    student = load_tiny_module().build()
    x = torch.from_numpy(d.inputs["x"])
    before = agreement(student.eval(), teacher, x)
    distill(student, teacher, d, DistillSettings(epochs=4, batch_size=32, lr=3e-3, patience=5), Steps(False), "t", 0)
    assert agreement(student.eval(), teacher, x) > before + 0.2


def test_student_learns_without_labels():
    """Unlabelled data: the student matches the teacher's outputs (any kind: here taken as an embedding)."""
    teacher, d = teacher_and_data()
    unlabelled = Dataset(d.inputs)
    torch.manual_seed(2)
    student = load_tiny_module().build()
    x = torch.from_numpy(d.inputs["x"])

    def error(model):
        with torch.no_grad():
            return float(((model.eval()(x) - teacher(x)) ** 2).mean())

    before = error(student)
    distill(student, teacher, unlabelled, DistillSettings(epochs=4, batch_size=32, lr=3e-3, patience=5),
            Steps(False), "t")
    assert error(student) < before / 4


def test_same_seed_same_weights_and_resume_matches(tmp_path):
    teacher, d = teacher_and_data()
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append(distill(load_tiny_module().build(), teacher, d, SETTINGS, Steps(False), "t", 0))
    torch.testing.assert_close(runs[0].state_dict(), runs[1].state_dict(), rtol=0, atol=0)

    # crash at the first step of the second epoch, then run again from the checkpoint
    class Crash(Exception):
        pass

    def crash_in_epoch_two(step, total):
        if step == total // 2:
            raise Crash

    ckpt = tmp_path / "resume.pt"
    torch.manual_seed(3)
    with pytest.raises(Crash):
        distill(load_tiny_module().build(), teacher, d, SETTINGS, Steps(False), "t", 0, checkpoint=ckpt,
                on_step=crash_in_epoch_two)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    torch.manual_seed(3)
    resumed = distill(load_tiny_module().build(), teacher, d, SETTINGS, Steps(False), "t", 0, checkpoint=ckpt)
    torch.testing.assert_close(resumed.state_dict(), runs[0].state_dict(), rtol=0, atol=0)


def test_too_little_data_is_refused():
    teacher, _ = teacher_and_data()
    with pytest.raises(UserError, match="too few to fine-tune"):
        distill(load_tiny_module().build(), teacher, data(20), SETTINGS, Steps(False), "t")
