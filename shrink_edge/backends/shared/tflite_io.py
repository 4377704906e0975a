"""A .tflite's inputs and outputs, as LiteRT and TFLite Micro feed and read them (by name, quantized where the
file is int8), and the named I/O litert-torch writes into a file's signature."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...model.signature import by_name_else_position, flatten_outputs


def named_io(module, inputs: list[str], outputs: tuple[str, ...]):
    """The module called with keyword arguments and returning a dict: litert-torch names the .tflite signature's
    inputs after the keywords and its outputs after the keys (else args_0, output_0, ...)."""
    import torch

    class NamedIO(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = module

        def forward(self, **kwargs):
            return dict(zip(outputs, flatten_outputs(self.inner(*(kwargs[n] for n in inputs)))))

    return NamedIO()


def repackable(model) -> bool:
    """Whether a .tflite (its object form, schema.ModelT) can be packed again: not where its constants are stored
    after the flatbuffer, by offset (ai-edge-quantizer's files), which repacking loses."""
    return not any(buffer.offset > 1 for buffer in model.buffers)


def packed(model) -> bytes:
    """A .tflite's object form packed again, every constant buffer 16-byte aligned as LiteRT's own converter writes
    them (flatbuffers' Python packer would align them to 1 byte)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    class AlignedBuffer(schema.BufferT):
        def Pack(self, builder):
            data = None
            if self.data is not None and len(self.data):
                raw = bytes(self.data)
                builder.StartVector(1, len(raw), 16)
                builder.head -= len(raw)
                builder.Bytes[builder.head:builder.head + len(raw)] = raw
                builder.vectorNumElems = len(raw)
                data = builder.EndVector()
            schema.BufferStart(builder)
            if data is not None:
                schema.BufferAddData(builder, data)
            schema.BufferAddOffset(builder, self.offset)
            schema.BufferAddSize(builder, self.size)
            return schema.BufferEnd(builder)

    for buffer in model.buffers:
        buffer.__class__ = AlignedBuffer
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float data onto an int8 input's grid; other inputs (float, token ids as int32, bools) as the file types them."""
    scale, zero = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0 or not np.issubdtype(x.dtype, np.floating):
        return x.astype(detail["dtype"])
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(detail["dtype"])


def dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    if detail["dtype"] == np.float32 or scale == 0:
        return y.astype(np.float32)
    return (y.astype(np.float32) - zero) * scale


def to_layout(x: np.ndarray, shape) -> np.ndarray:
    """NCHW data for an NHWC model (channel-last I/O) is transposed."""
    if x.ndim == 4 and tuple(shape[1:]) != x.shape[1:] and tuple(shape[1:]) == (x.shape[2], x.shape[3], x.shape[1]):
        return x.transpose(0, 2, 3, 1)
    return x


def inspector(path: Path):
    """An interpreter with the built-in kernels only (no XNNPACK delegate), for reading a model's ops and tensors."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_path=str(path),
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def io_details(interpreter) -> tuple[dict[str, dict], dict[str, dict]]:
    """Input and output details by name: the signature's names where the model has one (litert-torch names them
    after forward()'s parameters and outputs), else the tensors' own names."""
    by_index = {d["index"]: d for d in [*interpreter.get_input_details(), *interpreter.get_output_details()]}
    signatures = interpreter._get_full_signature_list()
    if len(signatures) == 1:
        signature = next(iter(signatures.values()))
        return ({name: by_index[i] for name, i in sorted(signature["inputs"].items(), key=lambda kv: kv[1])},
                {name: by_index[i] for name, i in sorted(signature["outputs"].items(), key=lambda kv: kv[1])})
    return ({d["name"]: d for d in interpreter.get_input_details()},
            {d["name"]: d for d in interpreter.get_output_details()})


def matched(names, details: dict[str, dict], what: str, path: Path) -> list[dict]:
    """The details for each name; by position when the file's names differ (a model another tool wrote)."""
    if (found := by_name_else_position(details, names)) is not None:
        return found
    raise RuntimeError(f"{path.name} has {what} {', '.join(details)}; expected {', '.join(names)}")
