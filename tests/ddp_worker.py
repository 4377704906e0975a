"""Run by test_ddp.py under torchrun: distill TinyNet with DistributedDataParallel, record what each rank got."""
import json
import sys

import numpy as np
import torch
from conftest import load_tiny_module

from shrink_edge.model.data import Dataset
from shrink_edge.progress import Steps
from shrink_edge.config.settings import DistillSettings
from shrink_edge.compress.training import distill

out = sys.argv[1]
rng = np.random.default_rng(0)
data = Dataset({"x": rng.random((512, 1, 28, 28), dtype=np.float32)}, rng.integers(0, 10, 512))
torch.manual_seed(0)
teacher = load_tiny_module().build().eval()
torch.manual_seed(1)
student = distill(load_tiny_module().build(), teacher, data, DistillSettings(epochs=1, batch_size=32), Steps(False), "d",
                  0)
rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
checksum = float(sum(p.double().sum() for p in student.parameters()))
with open(f"{out}/rank{rank}.json", "w") as f:
    json.dump({"world": world, "checksum": checksum, "backend": torch.distributed.get_backend()}, f)
torch.distributed.destroy_process_group()
