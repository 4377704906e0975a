"""Tasks for the zoo models whose outputs are not class scores: data generated from what packages ship, a brief
training, and each task's metric, which `--metric zoo/tasks.py:<fn>` computes on the reference and every artifact.

- Shapes on photos: scikit-image's `random_shapes` (rectangles, circles, triangles in random colours) pasted on crops
  of its photos. The detector finds one shape per image (metric: the share found with the right class at IoU >= 0.5,
  and the mean IoU of the best-scored box); the U-Net segments up to three (metric: mean IoU of its two shape classes,
  straight-edged and round).
- Harmonic tones of known pitch (no package ships speech): the pitch model, CREPE-style bins on a log-frequency axis
  (metric: raw pitch accuracy, the share within 50 cents, and the mean error in cents).
"""
from __future__ import annotations

import numpy as np

SIZE = 128                                   # the vision models' input side
KINDS = ("rectangle", "circle", "triangle")  # detector classes 1..3 (0: background)
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
GRIDS = ((16, 8), (8, 16))                   # the detector's maps: (cells per side, stride); 3 anchors per cell
ANCHORS = 3
LOW_HZ, HIGH_HZ, BINS, RATE = 80.0, 800.0, 64, 16000
BIN_CENTS = 1200 * np.log2(HIGH_HZ / LOW_HZ) / (BINS - 1)


def _backgrounds():
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.cat(), data.hubble_deep_field()]


def shapes(n: int, seed: int, most: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (N, 3, 128, 128, ImageNet-normalized), masks (N, 128, 128: 0 background, 1 rectangle or triangle,
    2 circle) and the last shape's box (N, 5: class 1..3, x0, y0, x1, y1 in pixels)."""
    from skimage import draw, transform

    rng = np.random.default_rng(seed)
    pictures = _backgrounds()
    images = np.empty((n, 3, SIZE, SIZE), np.float32)
    masks = np.zeros((n, SIZE, SIZE), np.int64)
    boxes = np.zeros((n, 5), np.float32)
    for i in range(n):
        p = pictures[rng.integers(len(pictures))]
        side = int(rng.integers(SIZE, min(p.shape[:2]) + 1))
        y, x = rng.integers(0, p.shape[0] - side + 1), rng.integers(0, p.shape[1] - side + 1)
        image = transform.resize(p[y:y + side, x:x + side] / 255.0, (SIZE, SIZE), anti_aliasing=True)
        for _ in range(int(rng.integers(1, most + 1))):
            kind = int(rng.integers(len(KINDS)))
            drawn, found = draw.random_shapes((SIZE, SIZE), 1, shape=KINDS[kind], min_size=20, max_size=64,
                                              rng=int(rng.integers(2 ** 31)), channel_axis=-1)
            where = (drawn != 255).any(-1)
            image[where] = drawn[where] / 255.0
            masks[i][where] = 2 if KINDS[kind] == "circle" else 1
            (r0, r1), (c0, c1) = found[0][1]
            boxes[i] = (kind + 1, c0, r0, c1, r1)
        images[i] = ((image - MEAN) / STD).transpose(2, 0, 1)
    return images, masks, boxes


def tones(n: int, seed: int, length: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Waveforms (N, length) of harmonic tones with noise, peak-normalized, and their pitch in Hz (log-uniform)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / RATE
    pitch = np.exp(rng.uniform(np.log(LOW_HZ), np.log(HIGH_HZ), n))
    waves = np.empty((n, length), np.float32)
    for i, f0 in enumerate(pitch):
        wave = sum(rng.uniform(0.1, 1) / k * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi))
                   for k in range(1, 6)) + rng.normal(0, 0.05, length)
        waves[i] = wave / np.abs(wave).max()
    return waves, pitch.astype(np.float32)


# ---- metrics: fn(outputs, labels), higher is better ----

def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes (..., 4) as x0, y0, x1, y1."""
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area_a, area_b = ((r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1]) for r in (a, b))
    return w * h / (area_a + area_b - w * h + 1e-9)


def _anchors() -> np.ndarray:
    """Per anchor, in the detector's output order (map, row, column, anchor): its cell's centre x, y and stride."""
    rows = []
    for grid, stride in GRIDS:
        y, x = np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij")
        cells = np.stack([(x.ravel() + 0.5) * stride, (y.ravel() + 0.5) * stride, np.full(grid * grid, stride)], -1)
        rows.append(np.repeat(cells, ANCHORS, 0))
    return np.concatenate(rows).astype(np.float32)


def detection(outputs: dict, labels: np.ndarray) -> dict:
    """The best-scored box of each image against its one shape."""
    boxes, scores = outputs.values()  # (N, anchors, 4: offsets from the cell), (N, anchors, 1 + classes)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    shape = (e / e.sum(-1, keepdims=True))[..., 1:]
    best = shape.max(-1).argmax(1)
    rows = np.arange(len(best))
    (dx, dy, dw, dh), (ax, ay, stride) = boxes[rows, best].T, _anchors()[best].T
    cx, cy, w, h = ax + dx * stride, ay + dy * stride, dw * 4 * stride, dh * 4 * stride
    iou = _iou(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1), labels[:, 1:])
    right = shape[rows, best].argmax(-1) + 1 == labels[:, 0]
    return {"found@0.5": float((right & (iou >= 0.5)).mean()), "mean_iou": float(iou.mean())}


def segmentation(outputs: dict, labels: np.ndarray) -> dict:
    predicted = next(iter(outputs.values())).argmax(1)
    ious = [((predicted == c) & (labels == c)).sum() / max(((predicted == c) | (labels == c)).sum(), 1)
            for c in (1, 2)]
    return {"mean_iou": float(np.mean(ious))}


def _cents(activation: np.ndarray) -> np.ndarray:
    """CREPE's decoding: the activation-weighted mean of the bins around the strongest."""
    peak = activation.argmax(1)
    idx = np.clip(peak[:, None] + np.arange(-2, 3), 0, BINS - 1)
    weights = np.take_along_axis(activation, idx, 1)
    return (weights * idx).sum(1) / np.maximum(weights.sum(1), 1e-9) * BIN_CENTS


def pitch(outputs: dict, labels: np.ndarray) -> dict:
    error = np.abs(_cents(next(iter(outputs.values()))) - 1200 * np.log2(labels / LOW_HZ))
    return {"rpa_50c": float((error < 50).mean()), "minus_cents": -float(error.mean())}


# ---- brief training ----

def _detector_targets(boxes: np.ndarray):
    """Per anchor: the class (0 background) and the box as SSD codes it (centre offset from the cell's centre in
    strides, width and height in four strides): the shape's centre cell on the map whose stride suits its size, all
    three anchors there."""
    import torch

    total = sum(g * g * ANCHORS for g, _ in GRIDS)
    classes, targets = np.zeros((len(boxes), total), np.int64), np.zeros((len(boxes), total, 4), np.float32)
    for i, (c, x0, y0, x1, y1) in enumerate(boxes):
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        level = 0 if max(w, h) < 40 else 1
        offset = sum(g * g * ANCHORS for g, _ in GRIDS[:level])
        grid, stride = GRIDS[level]
        cell = min(int(cy // stride), grid - 1) * grid + min(int(cx // stride), grid - 1)
        where = offset + cell * ANCHORS + np.arange(ANCHORS)
        code = [(cx % stride) / stride - 0.5, (cy % stride) / stride - 0.5, w / (4 * stride), h / (4 * stride)]
        classes[i, where], targets[i, where] = int(c), code
    return torch.from_numpy(classes), torch.from_numpy(targets)


def _fit(model, inputs, loss_fn, epochs: int, batch: int = 32, lr: float = 3e-3) -> None:
    import torch

    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr)
    steps = epochs * ((len(inputs) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(epoch))
        for i in range(0, len(order), batch):
            chosen = order[i:i + batch]
            loss = loss_fn(model(inputs[chosen]), chosen)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()


def train(task: str, model, n: int = 2000, seed: int = 10):
    """Train `model` briefly for `task` ("detection", "segmentation" or "pitch") on n generated samples."""
    import torch
    from torch.nn import functional as F

    if task == "detection":
        images, _, boxes = shapes(n, seed)
        classes, targets = _detector_targets(boxes)
        weight = torch.tensor([0.05] + [1.0] * len(KINDS))

        def loss(out, i):
            predicted, scores = out
            positive = classes[i] > 0
            return F.cross_entropy(scores.flatten(0, 1), classes[i].flatten(), weight) + \
                5 * F.l1_loss(predicted[positive], targets[i][positive])
        _fit(model, torch.from_numpy(images), loss, epochs=12)
    elif task == "segmentation":
        images, masks, _ = shapes(n, seed, most=3)
        masks = torch.from_numpy(masks)
        _fit(model, torch.from_numpy(images), lambda out, i: F.cross_entropy(out, masks[i]), epochs=6)
    elif task == "pitch":
        waves, hz = tones(n, seed)
        cents = 1200 * np.log2(hz / LOW_HZ)
        soft = np.exp(-0.5 * ((np.arange(BINS) * BIN_CENTS - cents[:, None]) / BIN_CENTS) ** 2).astype(np.float32)
        soft = torch.from_numpy(soft)
        _fit(model, torch.from_numpy(waves), lambda out, i: F.binary_cross_entropy(out, soft[i]), epochs=15)
    else:
        raise ValueError(f"unknown task {task}")
    return model


def held_out(task: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and labels for the metric: (images, boxes), (images, masks) or (waves, pitch in Hz)."""
    if task == "detection":
        images, _, boxes = shapes(n, seed)
        return images, boxes
    if task == "segmentation":
        images, masks, _ = shapes(n, seed, most=3)
        return images, masks
    return tones(n, seed)
