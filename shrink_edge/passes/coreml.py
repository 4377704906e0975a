"""Core ML .mlpackage (mlprogram, iOS 17+): W8A8 from the int8 program, and a weight-only int8 variant."""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

from ..model_source import load_program
from .base import Context, Pass

DEPLOYMENT_TARGET = "iOS17"


@contextlib.contextmanager
def _quiet():
    """coremltools prints progress bars and warns that it was tested up to an older torch."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _convert(program):
    import coremltools as ct

    return ct.convert(program.run_decompositions({}), convert_to="mlprogram",
                      minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET))


class CoremlExportInt8(Pass):
    """The int8 program's quantize/dequantize pairs become Core ML quantize/dequantize and
    constexpr_affine_dequantize ops: weights and activations int8."""
    name = "coreml-export-int8"
    source = "pt2-int8"
    target = "coreml-int8"

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        with _quiet():
            _convert(load_program(src)).save(str(dst))


class CoremlExportWeights8(Pass):
    """Float activations, weights linearly quantized to int8 per channel (coremltools' optimizer)."""
    name = "coreml-export-w8"
    version = 2  # every weight quantized, small ones too
    source = "pt2"
    target = "coreml-w8"

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        import coremltools.optimize.coreml as cto

        config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=0))
        with _quiet():
            cto.linear_quantize_weights(_convert(load_program(src)), config=config).save(str(dst))
