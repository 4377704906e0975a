"""Retrain the bundled Fashion-MNIST sample reproducibly (fixed seed, 1 thread).

Reads the official IDX files that Debian's dataset-fashion-mnist installs, writes the weights
(safetensors), a held-out slice of the test set and a calibration slice of the training set into
shrink_edge/samples/fashion_mnist/, and prints the float top-1 on the full 10k test set.
"""
import argparse
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from shrink_edge.model.data import load_idx_dir

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "shrink_edge" / "samples" / "fashion_mnist"


def load_sample_module():
    spec = importlib.util.spec_from_file_location("fashion_sample", SAMPLE / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random horizontal flip and a random shift of up to 2 pixels."""
    flip = torch.rand(len(x), generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = nn.functional.pad(x, (2, 2, 2, 2))
    dx, dy = (int(v) for v in torch.randint(0, 5, (2,), generator=gen))
    return padded[:, :, dy:dy + 28, dx:dx + 28]


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x[i:i + 1000])) for i in range(0, len(x), 1000)])
    return float((logits.argmax(1).numpy() == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    train, test = load_idx_dir(args.data, "train"), load_idx_dir(args.data, "test")
    model = load_sample_module().build()
    steps = args.epochs * (len(train) // args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(args.seed)
    x_all, y_all = torch.from_numpy(train.x), torch.from_numpy(train.y)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train), generator=gen)
        t0 = time.time()
        for i in range(len(train) // args.batch):
            idx = order[i * args.batch:(i + 1) * args.batch]
            loss = nn.functional.cross_entropy(model(augment(x_all[idx], gen)), y_all[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate(model, test.x, test.y)
        print(f"epoch {epoch + 1}/{args.epochs}: loss {loss.item():.3f}, test top-1 {acc:.4f} ({time.time() - t0:.0f} s)",
              flush=True)

    model.eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, SAMPLE / "weights.safetensors")
    rng = np.random.default_rng(args.seed)
    held = np.sort(rng.choice(len(test), 1000, replace=False))
    calib = np.sort(rng.choice(len(train), 512, replace=False))
    raw_test = (test.x[held, 0] * 255).round().astype(np.uint8)
    raw_calib = (train.x[calib, 0] * 255).round().astype(np.uint8)
    np.savez_compressed(SAMPLE / "heldout.npz", x=raw_test[:, None], y=test.y[held].astype(np.uint8))
    np.savez_compressed(SAMPLE / "calibration.npz", x=raw_calib[:, None], y=train.y[calib].astype(np.uint8))
    print(f"float top-1 on the full {len(test)}-image test set: {evaluate(model, test.x, test.y):.4f}")


if __name__ == "__main__":
    main()
