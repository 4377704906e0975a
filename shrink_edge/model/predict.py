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


def class_output(module, model: ModelSource, labelled: list, named: str | None = None) -> int | None:
    """Which output the class-id labels describe: the one named (`named`, i.e. --labels-output, or the data's
    `y_<output>`), else the only output that can hold class scores for them, (batch, classes) with a class for every
    label; with several, one line asks which. None without class labels."""
    import torch

    labelled = [(d, w) for d, w in labelled if d.class_labels is not None]
    names = sorted({named, *(d.labels_output for d, _ in labelled)} - {None})
    if len(names) > 1:
        raise UserError(f"the labels are named for {' and '.join(names)}: name one output")
    if not labelled:
        return None
    with torch.no_grad():
        outs = flatten_outputs(module(*examples(model.inputs)))
    shapes = ", ".join(f"{n} {tuple(o.shape)}" for n, o in zip(model.outputs, outs))
    first, top = labelled[0][1], max(int(d.class_labels.max()) for d, _ in labelled)
    if (low := min(int(d.class_labels.min()) for d, _ in labelled)) < 0:
        raise UserError(f"labels in {where(first)} go down to {low}; give class ids 0..classes-1")
    scores = [i for i, o in enumerate(outs) if o.ndim == 2 and o.dtype.is_floating_point]
    if names:
        if names[0] not in model.outputs:
            raise UserError(f"the labels are for an output named {names[0]}, but the model returns {shapes}")
        index = model.outputs.index(names[0])
        if index not in scores:
            raise UserError(f"the labels are for {names[0]}, which does not hold class scores (batch, classes): "
                            f"the model returns {shapes}")
        candidates = [index]
    elif not scores:
        raise UserError(f"{where(first)} has labels y but no output of the model holds class scores "
                        f"(batch, classes): it returns {shapes}; leave y out to verify every output against the "
                        "float model")
    else:
        candidates = [i for i in scores if outs[i].shape[1] > top] or scores[:1]
    if len(candidates) > 1:
        named_ones = ", ".join(f"{model.outputs[i]} {tuple(outs[i].shape)}" for i in candidates)
        raise UserError(f"{where(first)} has labels y (classes 0..{top}) that could be for {named_ones}: name the "
                        f"output they describe, as y_<output> in the .npz (e.g. y_{model.outputs[candidates[0]]}) "
                        f"or with --labels-output")
    index = candidates[0]
    classes = int(outs[index].shape[1])
    if top >= classes:
        raise UserError(f"labels in {where(first)} range up to {top} but the model's {model.outputs[index]} has "
                        f"{classes} outputs; give labels 0..{classes - 1}")
    return index


def where(value) -> str:
    """A data argument as a message names it."""
    return str(value) if isinstance(value, (str, Path)) else "the data passed in"
