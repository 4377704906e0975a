"""Fine-tuning with knowledge distillation: the original float model teaches the pruned or QAT student.

On the output that holds class scores, when the data has labels: alpha * T^2 * KL(student/T || teacher/T) +
(1 - alpha) * cross-entropy(labels). On every other output, and on every output of unlabelled data (embeddings,
boxes, masks, logits alike): the mean squared error to the teacher's output, divided by the teacher output's
variance so that outputs of any scale weigh the same. Early stopping on held-out accuracy where there are labels,
else on that loss. Fixed seed, a checkpoint after every epoch to resume from, and DistributedDataParallel when
launched under torchrun (WORLD_SIZE > 1): each rank trains on its shard, rank 0 keeps the result.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..model.data import Dataset
from ..errors import UserError
from ..progress import Steps
from ..config.settings import DistillSettings
from ..model.signature import flatten_outputs


def distillation_loss(student_logits, teacher_logits, labels, settings: DistillSettings) -> torch.Tensor:
    t = settings.temperature
    kd = nn.functional.kl_div(nn.functional.log_softmax(student_logits / t, 1),
                              nn.functional.log_softmax(teacher_logits / t, 1), log_target=True,
                              reduction="batchmean") * t * t
    return settings.alpha * kd + (1 - settings.alpha) * nn.functional.cross_entropy(student_logits, labels)


def matching_loss(student: list, teacher: list, scales: list, labels, class_output: int | None,
                  settings: DistillSettings) -> torch.Tensor:
    """The loss over every output: distillation + labels on the class scores, scaled MSE on the rest."""
    return sum(distillation_loss(s, t, labels, settings) if i == class_output and labels is not None
               else ((s.float() - t.float()) ** 2).mean() / scales[i]
               for i, (s, t) in enumerate(zip(student, teacher)))


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and os.environ.get("SHRINK_EDGE_DEVICE") == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
    return (torch.distributed.get_rank(), world) if world > 1 else (0, 1)


def split(data: Dataset, settings: DistillSettings) -> tuple[Dataset, Dataset]:
    n_hold = max(1, int(len(data) * settings.holdout))
    if len(data) - n_hold < settings.batch_size:
        raise UserError(f"training data holds {len(data)} samples: too few to fine-tune with batch size "
                        f"{settings.batch_size} and a {settings.holdout:.0%} held-out split; give more data")
    order = np.random.default_rng(settings.seed).permutation(len(data))
    return data.select(order[n_hold:]), data.select(order[:n_hold])


def _outputs(model: nn.Module, inputs: list, device: str) -> list:
    return flatten_outputs(model(*(x.to(device) for x in inputs)))


def _in_batches(model: nn.Module, data: Dataset, device: str, batch: int = 500) -> list[torch.Tensor]:
    xs = [torch.from_numpy(x) for x in data.arrays()]
    with torch.no_grad():
        chunks = [[o.cpu() for o in _outputs(model, [x[i:i + batch] for x in xs], device)]
                  for i in range(0, len(data), batch)]
    return [torch.cat(parts) for parts in zip(*chunks)]


def held_out_score(model: nn.Module, data: Dataset, teacher: list, scales: list, class_output: int | None,
                   device: str) -> float:
    """Higher is better: top-1 accuracy where there are labels, else minus the scaled MSE to the teacher."""
    outputs = _in_batches(model, data, device)
    if class_output is not None and data.class_labels is not None:
        return float((outputs[class_output].argmax(1) == torch.from_numpy(data.class_labels)).float().mean())
    return -float(sum(((o - t) ** 2).mean() / s for o, t, s in zip(outputs, teacher, scales)))


def distill(student: nn.Module, teacher: nn.Module, data: Dataset, settings: DistillSettings, steps: Steps,
            label: str, class_output: int | None = None, checkpoint: Path | None = None, device: str = "cpu",
            set_training: Callable[[nn.Module, bool], None] = lambda m, on: m.train(on),
            on_step: Callable[[int, int], None] = lambda step, total: None) -> nn.Module:
    """Train `student` against `teacher` and return it with the weights of its best held-out epoch.
    `on_step(step, total)` runs before each optimizer step (QAT freezes its observers there)."""
    rank, world = _distributed()
    torch.manual_seed(settings.seed)
    train, held = split(data, settings)
    student.to(device)
    teacher.to(device).eval()
    model = student
    if world > 1:
        model = nn.parallel.DistributedDataParallel(student, device_ids=[torch.cuda.current_device()]
                                                    if device == "cuda" else None)
    optimizer = torch.optim.AdamW(student.parameters(), lr=settings.lr, weight_decay=1e-4)
    per_rank = len(train) // world
    steps_per_epoch = per_rank // settings.batch_size
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.epochs * steps_per_epoch)
    start, best, best_state, stale = 0, float("-inf"), None, 0
    if checkpoint is not None and checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=True)
        student.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        start, best, stale, best_state = saved["epoch"], saved["best"], saved["stale"], saved["best_state"]

    xs = [torch.from_numpy(x) for x in train.arrays()]
    y_all = torch.from_numpy(train.class_labels) if train.class_labels is not None else None
    # No augmentation, so the teacher's answers never change: compute them once, not every epoch.
    with steps.step(f"{label}: teacher outputs", total=len(train)) as advance, torch.no_grad():
        chunks = []
        for i in range(0, len(train), 500):
            chunks.append([o.cpu() for o in _outputs(teacher, [x[i:i + 500] for x in xs], device)])
            advance(len(chunks[-1][0]))
        teacher_all = [torch.cat(parts) for parts in zip(*chunks)]
        teacher_held = _in_batches(teacher, held, device)
    scales = [float(t.float().var()) + 1e-8 for t in teacher_all]
    for epoch in range(start, settings.epochs):
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(settings.seed + epoch))
        shard = order[rank * per_rank:(rank + 1) * per_rank]
        set_training(student, True)
        with steps.step(f"{label}: epoch {epoch + 1}/{settings.epochs}", total=steps_per_epoch) as advance:
            for i in range(steps_per_epoch):
                on_step(epoch * steps_per_epoch + i, settings.epochs * steps_per_epoch)
                idx = shard[i * settings.batch_size:(i + 1) * settings.batch_size]
                y = y_all[idx].to(device) if y_all is not None else None
                loss = matching_loss(_outputs(model, [x[idx] for x in xs], device),
                                     [t[idx].to(device) for t in teacher_all], scales, y, class_output, settings)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                advance(1)
        set_training(student, False)
        score = held_out_score(student, held, teacher_held, scales, class_output, device)
        if score > best:
            best, stale = score, 0
            best_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
        else:
            stale += 1
        if checkpoint is not None and rank == 0:
            tmp = checkpoint.with_suffix(".tmp")
            torch.save({"model": student.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "epoch": epoch + 1, "best": best, "stale": stale,
                        "best_state": best_state}, tmp)
            os.replace(tmp, checkpoint)
        if stale >= settings.patience:
            break
    student.load_state_dict(best_state)
    return student.cpu()
