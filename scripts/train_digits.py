"""Train the second benchmark model, DigitsNet, on scikit-learn's bundled digits (1,797 8x8 images).

Fixed split (stratified, 20% test, seed 0), fixed seed, 1 thread. Writes shrink_edge/samples/digits/: weights.safetensors,
train.npz (1,437 images) and test.npz (360), images as uint8 scaled from the 0..16 pixel range, and prints the
float top-1 on the test split.
"""
import importlib.util
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "shrink_edge" / "samples" / "digits"
EPOCHS, BATCH, SEED = 40, 64, 0


def main() -> None:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    digits = load_digits()
    images = np.round(digits.images / 16 * 255).astype(np.uint8)[:, None]  # N,1,8,8
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target.astype(np.int64), test_size=0.2,
                                                        stratify=digits.target, random_state=SEED)
    np.savez_compressed(FOLDER / "train.npz", x=x_train, y=y_train)
    np.savez_compressed(FOLDER / "test.npz", x=x_test, y=y_test)

    spec = importlib.util.spec_from_file_location("digits_model", FOLDER / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.build()
    x, y = torch.from_numpy(x_train).float() / 255, torch.from_numpy(y_train)
    steps = EPOCHS * (len(x) // BATCH)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(SEED)
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x), generator=gen)
        for i in range(len(x) // BATCH):
            idx = order[i * BATCH:(i + 1) * BATCH]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(torch.from_numpy(x_test).float() / 255).argmax(1).numpy() == y_test).mean())
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, FOLDER / "weights.safetensors")
    print(f"DigitsNet: float top-1 {accuracy:.4f} on {len(y_test)} test images")


if __name__ == "__main__":
    main()
