"""Arm's Vela: an int8 .tflite compiled for an Ethos-U NPU, and its estimates (the Ethos-U backend's file, and the
configuration ExecuTorch's Arm backend hands to Vela)."""
from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from ...errors import UserError

DEFAULTS = {"accelerator": "ethos-u55-128", "system_config": "Ethos_U55_High_End_Embedded",
            "memory_mode": "Shared_Sram"}


def vela_config(options: dict) -> dict:
    """The NPU and memory system a target's [options] name, and Vela's version."""
    return {**{k: options.get(k, v) for k, v in DEFAULTS.items()}, "vela": version("ethos-u-vela")}


def compile_with_vela(src: Path, dst: Path, config: dict) -> dict:
    """Vela on an int8 .tflite into the folder dst (model_vela.tflite, vela.json); returns vela.json's content."""
    dst.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from ethosu.vela.vela import main; sys.exit(main())",
         str(src), "--accelerator-config", config["accelerator"], "--system-config",
         config["system_config"], "--memory-mode", config["memory_mode"], "--output-dir", str(dst)],
        capture_output=True, text=True)
    if done.returncode != 0:
        if refusal := re.search(r"Compilation failed: (.*(?:\n[ -].*)*)", done.stderr + done.stdout):
            raise UserError(f"Vela could not compile for {config['accelerator']}: {' '.join(refusal[1].split())}")
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise UserError(f"Vela could not compile for {config['accelerator']}: {last} (check the target's "
                        "[options] accelerator / system_config / memory_mode)")
    compiled = dst / f"{src.stem}_vela.tflite"
    compiled.rename(dst / "model_vela.tflite")
    [summary] = list(csv.DictReader(next(dst.glob("*_summary_*.csv")).open()))
    for leftover in dst.glob("*_summary_*.csv"):
        leftover.unlink()
    ops = {kind.lower(): int(n) for kind, n in re.findall(r"^(CPU|NPU) operators = (\d+)", done.stdout, re.M)}
    fallbacks = [f"{op}: {reason.strip()}" for op, reason in re.findall(
        r"^Warning \(supported operators\) operator: (\w+).*\nReason: (.*)$", done.stdout, re.M)]
    kib = lambda key: round(float(summary.get(key) or 0) * 1024)  # noqa: E731
    estimates = {
        "accelerator": summary["accelerator_configuration"], "system_config": summary["system_config"],
        "memory_mode": summary["memory_mode"], "clock_hz": float(summary["core_clock"]),
        "cycles_total": int(float(summary["cycles_total"])), "cycles_npu": int(float(summary["cycles_npu"])),
        "inference_time_ms": round(float(summary["inference_time"]) * 1e3, 4),
        "sram_bytes": kib("sram_memory_used"),
        "off_chip_bytes": kib("off_chip_flash_memory_used") + kib("dram_memory_used"),
        "npu_ops": ops.get("npu", 0), "cpu_ops": ops.get("cpu", 0), "cpu_fallback": fallbacks,
        "estimated_by": f"vela {config['vela']}",
    }
    (dst / "vela.json").write_text(json.dumps(estimates, indent=2) + "\n")
    return estimates
