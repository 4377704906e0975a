"""The shrink-edge command line."""
from __future__ import annotations

import json
import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from .errors import BudgetError, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Take a trained PyTorch model to the edge: quantize, export, verify.")
stdout, stderr = Console(), Console(stderr=True)


@app.callback()
def _quiet_third_party() -> None:
    """The converters log warnings meant for their own developers; a user of the CLI needs none of them."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TORCH_LOGS", "-all")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for name in ("torch", "torchao", "onnxscript", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fail(message: str, code: int) -> None:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _emit(as_json: bool, payload: dict, table) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        stdout.print(table)


@app.command()
def export(
    target: Annotated[str, typer.Option(help="Target spec name (see `shrink-edge targets`).")] = "onnx",
    model: Annotated[Optional[str], typer.Option(help="path/to/file.py:factory or a torch.export .pt2 file; "
                                                      "default: the bundled Fashion-MNIST sample.")] = None,
    weights: Annotated[Optional[Path], typer.Option(help="State dict: .safetensors, or .pt/.pth loaded "
                                                         "weights-only.")] = None,
    input_shape: Annotated[Optional[str], typer.Option(help="Example input shape, batch first: 1,1,28,28.")] = None,
    data: Annotated[Optional[Path], typer.Option(help="Evaluation data: a directory of IDX files or an .npz "
                                                      "with arrays x and y.")] = None,
    calibration: Annotated[Optional[Path], typer.Option(help="Calibration data (same forms as --data); default: "
                                                             "the first part of --data.")] = None,
    out: Annotated[Path, typer.Option(help="Output folder for artifacts and manifest.json.")] = Path("out"),
    cache_dir: Annotated[Optional[Path], typer.Option(help="Cache of intermediates [default: "
                                                           "$SHRINK_EDGE_CACHE_DIR or ~/.cache/shrink-edge].")] = None,
    unsafe_allow_pickle: Annotated[bool, typer.Option("--unsafe-allow-pickle", help="Unpickle --weights even if "
                                                      "it holds arbitrary objects. Only for files you trust.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Convert a model for a target and verify every artifact in its runtime."""
    from .exporter import export as run_export
    from .model_source import ModelSource
    from .tables import export_table

    try:
        source = None
        if model is not None:
            source = ModelSource.from_cli(model, weights, input_shape, unsafe_allow_pickle)
        elif weights is not None or input_shape is not None:
            raise UserError("--weights and --input-shape go with --model; without --model the bundled sample is used")
        result = run_export(target=target, model=source, data=data, calibration=calibration, out=out,
                            cache_dir=cache_dir, progress=not as_json and sys.stderr.isatty())
    except UserError as e:
        _fail(str(e), 2)
    except BudgetError as e:
        _fail(str(e), 1)
    _emit(as_json, {**result.manifest, "reused": result.reused}, export_table(result))


@app.command("targets")
def list_targets(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List the target specs."""
    from . import targets
    from .tables import targets_table

    try:
        specs = targets.available()
    except UserError as e:
        _fail(str(e), 2)
    payload = {name: {"runtime": s.runtime, "artifacts": list(s.artifacts), "description": s.description,
                      "budget": vars(s.budget), "quantization": vars(s.quantization)} for name, s in specs.items()}
    _emit(as_json, payload, targets_table(specs))


@app.command()
def inspect(
    artifact: Annotated[Path, typer.Argument(help="An artifact file, e.g. model.onnx.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print an artifact's size, ops census and input/output types."""
    from .inspect import inspect_artifact
    from .tables import inspect_table

    try:
        info = inspect_artifact(artifact)
    except UserError as e:
        _fail(str(e), 2)
    _emit(as_json, info, inspect_table(info))
