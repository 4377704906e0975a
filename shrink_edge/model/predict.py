"""The PyTorch model's own outputs on data, and which of them the data's labels are for."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UserError
from .signature import as_numpy, examples, flatten_outputs
from .source import ModelSource


def predict_torch(module, inputs: list[np.ndarray], batch: int = 250) -> list[np.ndarray]:
    """The module's outputs on every sample, one array per output."""
    import torch

    chunks = []
    with torch.no_grad():
        for i in range(0, len(inputs[0]), batch):
            chunks.append(as_numpy(flatten_outputs(module(*(torch.from_numpy(x[i:i + batch]) for x in inputs)))))
    return [np.concatenate(parts) for parts in zip(*chunks)]


def class_output(module, model: ModelSource, labelled: list) -> int | None:
    """Which output the labels are for: the class scores, (batch, classes). None without labels."""
    import torch

    labelled = [(d, w) for d, w in labelled if d.class_labels is not None]
    if not labelled:
        return None
    with torch.no_grad():
        outs = flatten_outputs(module(*examples(model.inputs)))
    scores = [i for i, o in enumerate(outs) if o.ndim == 2 and o.dtype.is_floating_point]
    if not scores:
        raise UserError(f"{where(labelled[0][1])} has labels y but no output of the model holds class scores "
                        f"(batch, classes): it returns {', '.join(f'{n} {tuple(o.shape)}' for n, o in zip(model.outputs, outs))}; "
                        "leave y out to verify every output against the float model")
    index = scores[0]
    classes = int(outs[index].shape[1])
    for dataset, place in labelled:
        if dataset.class_labels.min() < 0 or dataset.class_labels.max() >= classes:
            raise UserError(f"labels in {where(place)} range over {dataset.class_labels.min()}..{dataset.class_labels.max()} "
                            f"but the model's {model.outputs[index]} has {classes} outputs; give labels "
                            f"0..{classes - 1}")
    return index


def where(value) -> str:
    """A data argument as a message names it."""
    return str(value) if isinstance(value, (str, Path)) else "the data passed in"
