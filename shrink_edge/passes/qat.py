"""torch -> pt2-int8: INT8 quantization-aware training (torchao PT2E) with distillation from the original.

Batch-norm is simulated-folded into the convolutions during training; after `freeze_after` of the steps the
observers stop updating the ranges and batch-norm stops updating its statistics, so the last steps train
against the ranges the int8 model will have. The converted program is the reference every artifact is
verified against.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ..quant.scheme import converted, make_quantizer
from ..config.settings import QatSettings
from ..compress.training import distill
from ..quant.workarounds import litert_conv_bn_qat_patterns
from .base import ConfiguredPass, Context
from .distill import training_data
from .torch_export import export_program

PTQ_ONLY = ("observer", "equalize", "smooth")  # calibration settings: QAT learns its ranges and trains its weights


def freeze(prepared) -> None:
    """Stop observers and batch-norm statistics in a prepared PT2E graph."""
    from torchao.quantization.pt2e import disable_observer

    prepared.apply(disable_observer)
    for node in prepared.graph.nodes:
        if node.op == "call_function" and "batch_norm" in str(node.target) and len(node.args) > 5:
            node.args = (*node.args[:5], False, *node.args[6:])
    prepared.recompile()


def prepare_qat(model, inputs, scheme):
    """Export in training mode (batch 2, dynamic batch) and insert fake-quantize for `scheme`."""
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    program = export_program(model.train(), inputs)
    with litert_conv_bn_qat_patterns():
        return prepare_qat_pt2e(program.module(), make_quantizer(scheme, qat=True))


class QuantizationAwareTraining(ConfiguredPass):
    name = "qat"
    source = "torch"
    target = "pt2-int8"
    version = 20  # 20: rolls on their input's grid, rearrangements of any rank (Core ML drops those over 5); 19: none of more than 5 dimensions (Core ML); 18 (17): rearrangements (reshape, transpose, contiguous) on their input's grid; 16: a split's parts on its input's grid; 15: sigmoids on their fixed grid; 14: tanh read on its grid; 13: tanh on its fixed grid; 12: transposed convolutions quantized; 11 (10): concatenations and resizes quantized; 9: hard sigmoid, hardswish and pools quantized; 8 (7): gates quantized; 6: conv+ReLU6 quantized once; 5: keep_float; 4: biases on their int32 grid

    config: QatSettings

    def data_settings(self, ctx: Context) -> dict:
        scheme = {k: v for k, v in asdict(ctx.quantization).items() if k not in PTQ_ONLY}
        return {"scheme": scheme, "data": training_data(ctx).digest()}

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import torch
        from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train

        teacher = ctx.model.load()
        prepared = prepare_qat(ctx.model.load(src), ctx.model.inputs, ctx.quantization)
        frozen = False

        def on_step(step: int, total: int) -> None:
            nonlocal frozen
            if not frozen and step >= int(total * self.config.freeze_after):
                freeze(prepared)
                frozen = True

        def set_training(module, on: bool) -> None:
            (move_exported_model_to_train if on else move_exported_model_to_eval)(module)
            if on and frozen:  # moving to train mode turns batch-norm statistics back on
                freeze(module)

        distill(prepared, teacher, training_data(ctx), self.config.distill_settings(), ctx.steps, "qat",
                ctx.class_output,
                device=ctx.device, set_training=set_training, on_step=on_step)
        move_exported_model_to_eval(prepared)
        with ctx.steps.step("converting the QAT model to int8"):
            program = converted(prepared, ctx.quantization.keep_float)
        torch.export.save(export_program(program, ctx.model.inputs), dst)
