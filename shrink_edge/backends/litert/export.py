"""pt2-int8 -> tflite-int8-static: litert-torch's converter, every op int8 with int8 input and output, except what
the int8 program leaves float (a recurrent layer, which litert-torch unrolls into float FULLY_CONNECTED ops, or a layer
kept in float). TFLite Micro and Vela build from this file; LiteRT's own (tflite-int8) runs the recurrent layers'
FULLY_CONNECTED ops with int8 weights (recurrent.py).

litert-torch needs the weights as float -> quantize -> dequantize (convert_pt2e(fold_quantize=False)), while
our int8 program keeps them folded as int8 constants; `quantization.unfold_weights` restores the unfolded form, with the
same int8 values. Without its own quant_config litert-torch silently writes a float model with Q/DQ pairs; what
stays float is listed in the file's facts (session.py). litert-torch names every tensor after its torch module path,
about a tenth of a small model's bytes; `short_tensor_names` numbers them instead, keeping the input and output
names that apps look up, and names the weights of a recurrent layer's FULLY_CONNECTED ops `recurrent<index>` (unless
the layer is kept in float), found by their values: litert-torch's own names lose the module behind the I/O wrapper.
"""
from __future__ import annotations

import contextlib
import io
from pathlib import Path

from ...errors import UserError
from ...model.source import load_program
from ...quant.scheme import make_quantizer, unfold_weights
from ...model.signature import examples
from ...passes.base import Context, Pass
from ..shared.tflite_io import named_io, packed, repackable


RECURRENT_OPS = ("lstm", "gru", "rnn_tanh", "rnn_relu")  # aten ops that litert-torch unrolls into FULLY_CONNECTED


def short_tensor_names(path: Path, recurrent: list[bytes] = ()) -> None:
    """Rename the inner tensors t<index>, and recurrent<index> the float weights that hold one of `recurrent`'s
    values (a recurrent layer's weight matrices, recurrent_weights), and repack (tflite_io.packed)."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    if not repackable(model):
        return
    wanted = set(recurrent)
    for subgraph in model.subgraphs:
        keep = set(subgraph.inputs) | set(subgraph.outputs)
        for i, tensor in enumerate(subgraph.tensors):
            if i not in keep:
                data = model.buffers[tensor.buffer].data
                weight = tensor.type == schema.TensorType.FLOAT32 and data is not None and len(tensor.shape) == 2
                held = wanted and weight and np.sort(np.frombuffer(bytes(data), np.float32)).tobytes() in wanted
                tensor.name = f"recurrent{i}" if held else f"t{i}"
    path.write_bytes(packed(model))


def recurrent_weights(module, keep_float: tuple[str, ...]) -> list[bytes]:
    """The weight matrices of the program's LSTM, GRU and RNN layers that `keep_float` leaves to int8, each as its
    values sorted (float32 bytes): litert-torch unrolls each into FULLY_CONNECTED ops over the same matrix, its gate
    rows reordered."""
    import numpy as np

    found = []
    for node in module.graph.nodes:
        if node.op != "call_function" or getattr(node.target, "_opname", None) not in RECURRENT_OPS:
            continue
        path = next(reversed(node.meta.get("nn_module_stack", {}).values()), ("", None))[0]
        if any(path == k or path.startswith(k + ".") for k in keep_float):
            continue
        for param in node.args[2]:  # (input, hx, params, ...) for each of them
            value = module.get_parameter(param.target) if param.op == "get_attr" else None
            if value is not None and value.ndim == 2:
                found.append(np.sort(value.detach().float().numpy().ravel()).tobytes())
    return found


class TfliteExport(Pass):
    name = "tflite-export"
    source = "pt2-int8"
    target = "tflite-int8-static"
    version = 4  # recurrent layers' weights named; 3: signature named after forward()'s inputs and outputs; 2: inner
    # tensors renamed t<index>

    def settings(self, ctx: Context) -> dict:
        return {"nhwc_io": ctx.options.get("nhwc_io", False), "io_dtype": ctx.options.get("io_dtype", "int8")}

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import litert_torch
        from litert_torch.quantize.quant_config import QuantConfig

        if ctx.options.get("io_dtype", "int8") != "int8":
            raise UserError(f"TFLite io_dtype '{ctx.options['io_dtype']}' is not supported: litert-torch writes int8 "
                            "input and output (uint8 I/O needs TensorFlow's converter); set io_dtype = \"int8\"")
        module = load_program(src).module()
        unfold_weights(module)
        recurrent = recurrent_weights(module, ctx.quantization.keep_float)
        example = list(examples(ctx.model.inputs))
        if ctx.options.get("nhwc_io", False):
            images = [i for i, x in enumerate(example) if x.ndim == 4 and x.is_floating_point()]
            module = litert_torch.to_channel_last_io(module, args=images)
            for i in images:
                example[i] = example[i].permute(0, 2, 3, 1).contiguous()
        names = [s.name for s in ctx.model.inputs]
        scheme = make_quantizer(ctx.quantization, qat=True)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            litert_torch.convert(named_io(module, names, ctx.model.outputs), (), sample_kwargs=dict(zip(names, example)),
                                 quant_config=QuantConfig(pt2e_quantizer=scheme)).export(str(dst))
        short_tensor_names(dst, recurrent)
