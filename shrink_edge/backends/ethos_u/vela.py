"""tflite-int8-static -> ethos-u: the int8 flatbuffer compiled by Arm's Vela for an Ethos-U NPU, with Vela's estimates.

The folder holds model_vela.tflite (the NPU command stream in an ethos-u custom op) and vela.json: cycles, time at
the configured clock, SRAM and off-chip (flash or DRAM) bytes, and how many operators run on the NPU vs fall back to
the CPU. All of it is Vela's static estimate for the named system configuration, not a measurement.
"""
from __future__ import annotations

from pathlib import Path

from ...passes.base import Context, Pass
from ..shared.vela import compile_with_vela, vela_config


class VelaCompile(Pass):
    name = "vela-compile"
    source = "tflite-int8-static"
    target = "ethos-u"

    def settings(self, ctx: Context) -> dict:
        return vela_config(ctx.options)

    def run(self, src: Path | None, dst: Path, ctx: Context) -> None:
        config = self.settings(ctx)
        with ctx.steps.step(f"compiling for {config['accelerator']} with Vela"):
            compile_with_vela(src, dst, config)
