"""Fine-tuning with knowledge distillation: the original float model teaches the pruned or QAT student.

Loss = alpha * T^2 * KL(student/T || teacher/T) + (1 - alpha) * cross-entropy(labels). Fixed seed, a held-out
split for early stopping, a checkpoint after every epoch to resume from, and DistributedDataParallel when
launched under torchrun (WORLD_SIZE > 1): each rank trains on its shard, rank 0 keeps the result.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import Dataset
from .errors import UserError
from .progress import Steps
from .settings import DistillSettings


def distillation_loss(student_logits, teacher_logits, labels, settings: DistillSettings) -> torch.Tensor:
    t = settings.temperature
    kd = nn.functional.kl_div(nn.functional.log_softmax(student_logits / t, 1),
                              nn.functional.log_softmax(teacher_logits / t, 1), log_target=True,
                              reduction="batchmean") * t * t
    return settings.alpha * kd + (1 - settings.alpha) * nn.functional.cross_entropy(student_logits, labels)


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
    return Dataset(data.x[order[n_hold:]], data.y[order[n_hold:]]), Dataset(data.x[order[:n_hold]], data.y[order[:n_hold]])


def accuracy(model: nn.Module, data: Dataset, device: str, batch: int = 500) -> float:
    with torch.no_grad():
        hits = sum(int((model(torch.from_numpy(data.x[i:i + batch]).to(device)).argmax(1).cpu()
                        == torch.from_numpy(data.y[i:i + batch])).sum()) for i in range(0, len(data), batch))
    return hits / len(data)


def distill(student: nn.Module, teacher: nn.Module, data: Dataset, settings: DistillSettings, steps: Steps,
            label: str, checkpoint: Path | None = None, device: str = "cpu",
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
    start, best, best_state, stale = 0, -1.0, None, 0
    if checkpoint is not None and checkpoint.exists():
        saved = torch.load(checkpoint, map_location=device, weights_only=True)
        student.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        start, best, stale, best_state = saved["epoch"], saved["best"], saved["stale"], saved["best_state"]

    x_all, y_all = torch.from_numpy(train.x), torch.from_numpy(train.y)
    # No augmentation, so the teacher's answers never change: compute them once, not every epoch.
    with steps.step(f"{label}: teacher outputs", total=len(train)) as advance, torch.no_grad():
        chunks = []
        for i in range(0, len(train), 500):
            chunks.append(teacher(x_all[i:i + 500].to(device)).cpu())
            advance(len(chunks[-1]))
        teacher_all = torch.cat(chunks)
    for epoch in range(start, settings.epochs):
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(settings.seed + epoch))
        shard = order[rank * per_rank:(rank + 1) * per_rank]
        set_training(student, True)
        with steps.step(f"{label}: epoch {epoch + 1}/{settings.epochs}", total=steps_per_epoch) as advance:
            for i in range(steps_per_epoch):
                on_step(epoch * steps_per_epoch + i, settings.epochs * steps_per_epoch)
                idx = shard[i * settings.batch_size:(i + 1) * settings.batch_size]
                x, y = x_all[idx].to(device), y_all[idx].to(device)
                loss = distillation_loss(model(x), teacher_all[idx].to(device), y, settings)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                advance(1)
        set_training(student, False)
        score = accuracy(student, held, device)
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
