"""The shrink-edge command line."""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import BudgetError, DeviceError, UserError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Take a trained PyTorch model to the edge: quantize, export, verify.")
# Piped or redirected, a table keeps its full width (rich would cut it at 80 columns).
stdout, stderr = Console(width=None if sys.stdout.isatty() else 1000), Console(stderr=True)


@app.callback()
def _quiet_third_party(verbose: Annotated[bool, typer.Option("--verbose", help="Show the converters' and runtimes' "
                                                             "own warnings and log lines.")] = False) -> None:
    """The converters log warnings meant for their own developers; a user of the CLI needs none of them."""
    if verbose:
        os.environ["SHRINK_EDGE_VERBOSE"] = "1"  # progress.native_logs_quiet lets the runtimes' own lines through
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TORCH_LOGS", "-all")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
    for name in ("torch", "torchao", "onnxscript", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if importlib.util.find_spec("litert_converter") is not None:  # in 0.1 s, not when litert-torch first loads it:
        from ..profiling.devices.runner import silenced        # its native library announces oneDNN through absl's
                                                                # logging, which TF_CPP_MIN_LOG_LEVEL does not reach
        with silenced():
            import litert_converter.mlir  # noqa: F401


def _fail(message: str, code: int) -> None:
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _one_line_errors():
    """Bad input exits 2, a broken budget 1, a failing device 3, Ctrl-C 130: each as one line, never a traceback.
    A library may turn the KeyboardInterrupt of Ctrl-C into an error of its own (torch.export wraps what its
    tracing raises): whatever ends the command after Ctrl-C is reported as the interruption it was."""
    pressed = []

    def on_ctrl_c(signum, frame):
        pressed.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    except (Exception, KeyboardInterrupt) as e:
        if pressed or isinstance(e, KeyboardInterrupt):
            _fail("interrupted: nothing was written (the output folder holds what it held before)", 130)
        for kind, code in ((UserError, 2), (BudgetError, 1), (DeviceError, 3)):
            if isinstance(e, kind):
                _fail(str(e), code)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def _emit(as_json: bool, payload: dict, table) -> None:
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        stdout.print(table)


ModelOpt = Annotated[Optional[str], typer.Option("--model", help="path/to/file.py:factory or a torch.export .pt2 "
                                                  "file; default: the bundled Fashion-MNIST sample.")]
WeightsOpt = Annotated[Optional[Path], typer.Option("--weights", help="State dict: .safetensors, or .pt/.pth loaded "
                                                    "weights-only.")]
ShapeOpt = Annotated[Optional[list[str]], typer.Option("--input-shape", help="Example input shape, batch first: "
                                                      "1,1,28,28; name=1,32 per input, repeatable [default: one "
                                                      "sample of each --data array].")]
DataOpt = Annotated[Optional[Path], typer.Option("--data", help="Evaluation data: a directory of IDX files or an "
                                                 ".npz with one array per input (named after forward()'s "
                                                 "parameters; x for a single input) and optional labels y: "
                                                 "class ids, or masks, boxes ... for --metric.")]
LabelsOutputOpt = Annotated[Optional[str], typer.Option("--labels-output", help="The output the data's labels y "
                                                      "describe (class scores), by name [default: y_<output> in the "
                                                      "data, else the only output that can hold them].")]
CalibrationOpt = Annotated[Optional[Path], typer.Option("--calibration", help="Calibration data (same forms as "
                                                        "--data); default: the first part of --data.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder for artifacts and manifest.json.")]
CacheOpt = Annotated[Optional[Path], typer.Option("--cache-dir", help="Cache of intermediates [default: "
                                                  "$SHRINK_EDGE_CACHE_DIR or ~/.cache/shrink-edge].")]
PickleOpt = Annotated[bool, typer.Option("--unsafe-allow-pickle", help="Unpickle --weights even if it holds "
                                         "arbitrary objects. Only for files you trust.")]
RecipeOpt = Annotated[Optional[Path], typer.Option("--recipe", help="TOML recipe: [prune], [distill], [qat].")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="Override a recipe setting: section.key=value, "
                                                     "e.g. --set prune.ratio=0.3. Repeatable.")]
TrainOpt = Annotated[Optional[Path], typer.Option("--train-data", help="Fine-tuning data (IDX directory or .npz); "
                                                  "overrides the recipe's train_data.")]
TrainDeviceOpt = Annotated[str, typer.Option("--train-device", help="Where fine-tuning runs: cpu or cuda (profiling "
                                                 "devices are `profile --device`).")]
AndroidOpt = Annotated[Optional[Path], typer.Option("--android-project", help="Android project root: the .tflite "
                                                    "and its metadata go to app/src/main/assets, plus a Kotlin helper "
                                                    "and shrink-edge.gradle.kts.")]
AssetsOpt = Annotated[Optional[Path], typer.Option("--assets-dir", help="Just the assets folder for the .tflite and "
                                                   "its metadata.")]
IosOpt = Annotated[Optional[Path], typer.Option("--ios-project", help="iOS project root: the .mlpackage and metadata "
                                                "go to ShrinkEdge/Resources, plus a Swift helper and a Run Script "
                                                "build phase.")]
LabelsOpt = Annotated[Optional[Path], typer.Option("--labels", help="Class names for the app metadata, one per line.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _inputs(model, weights, input_shape, unsafe_allow_pickle, recipe, overrides, train_data):
    from dataclasses import replace

    from ..config import recipe as recipes
    from ..model.source import ModelSource

    source = None
    if model is not None:
        source = ModelSource.from_cli(model, weights, input_shape, unsafe_allow_pickle)
    elif weights is not None or input_shape is not None:
        raise UserError("--weights and --input-shape go with --model; without --model the bundled sample is used")
    plan = None
    if recipe is not None or overrides or train_data is not None:
        plan = recipes.load(recipe, overrides or [])
        if train_data is not None:
            plan = replace(plan, train_data=train_data)
    return source, plan


def _target(target: Optional[str], plan) -> str:
    return target or (plan.targets[0] if plan and plan.targets else "onnx")


@app.command()
def export(
    target: Annotated[Optional[str], typer.Option(help="Target spec name (see `shrink-edge targets`) "
                                                       "[default: the recipe's first target, else onnx].")] = None,
    model: ModelOpt = None, weights: WeightsOpt = None, input_shape: ShapeOpt = None, data: DataOpt = None,
    calibration: CalibrationOpt = None, labels_output: LabelsOutputOpt = None, recipe: RecipeOpt = None,
    overrides: SetOpt = None, train_data: TrainOpt = None, device: TrainDeviceOpt = "cpu", out: OutOpt = Path("out"),
    cache_dir: CacheOpt = None,
    unsafe_allow_pickle: PickleOpt = False, android_project: AndroidOpt = None, assets_dir: AssetsOpt = None,
    ios_project: IosOpt = None, labels: LabelsOpt = None,
    profile_on: Annotated[Optional[list[str]], typer.Option("--profile", help="Then profile the artifacts on this "
                                                            "device (local, adb[:SERIAL], emulator; repeatable) and "
                                                            "record the figures in manifest.json.")] = None,
    metric: Annotated[Optional[str], typer.Option("--metric", help="Your task metric, path.py:fn: fn(outputs by "
                                                  "name, labels or None) -> a number or dict of numbers, higher is "
                                                  "better; computed on the reference and every artifact.")] = None,
    max_metric_drop: Annotated[Optional[float], typer.Option("--max-metric-drop", help="Fail when an int8 "
                                                             "artifact's --metric falls more than this below the "
                                                             "reference's.")] = None,
    no_budget: Annotated[bool, typer.Option("--no-budget", help="Report a broken budget in manifest.json "
                                            "(budget_broken) and write the artifacts anyway, instead of failing.")]
    = False,
    debug: Annotated[bool, typer.Option("--debug", help="When an int8 artifact breaks its budget, rank the layers "
                                        "that lose accuracy (as `shrink-edge debug`) and name them.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Fail when an int8 artifact loses accuracy beyond its "
                                         "budget, instead of searching the scheme's remedies and keeping the worst "
                                         "layers in float ([quantize] fallback = \"off\"); for LLM targets, when "
                                         "an int4 artifact does, instead of keeping its most sensitive layers "
                                         "int8.")] = False,
    context: Annotated[Optional[int], typer.Option("--context", help="LLM targets: tokens per held-out window "
                                                   "(half prefilled, half decoded) [default: 128, at most the "
                                                   "model's context].")] = None,
    scheme: Annotated[Optional[list[str]], typer.Option("--scheme", help="LLM targets: a weight scheme instead "
                                                        "of the targets' own (float, int8-channel, int4-g32, "
                                                        "int4-g64-gptq, ..., or runtime: the runtime's own "
                                                        "int4 quantizer); repeatable.")] = None,
    lowrank: Annotated[Optional[float], typer.Option("--lowrank", help="LLM targets: factorize the linear layers "
                                                     "first, keeping this fraction of their parameters (0.75), "
                                                     "ranks chosen per layer on the calibration text.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Convert a model (optimized by --recipe if given) for a target and verify every artifact in its runtime.
    A language model (a Hugging Face folder or .gguf) goes to the llm-* targets, --data being text."""
    if _language_model(target, model):
        if any(v is not None for v in (weights, input_shape, recipe, overrides, train_data, calibration, metric,
                                       assets_dir, profile_on)):
            _fail("LLM targets take --model (a Hugging Face folder or .gguf), --data (text), --context, --scheme, "
                  "--lowrank, --out, --android-project and --ios-project; --weights, --input-shape, --recipe, --set, "
                  "--train-data, --calibration, --metric, --assets-dir and --profile are for other models (profile "
                  "LLM artifacts with `shrink-edge profile`)", 2)
        return _export_llm(target, model, data, context, scheme, out, no_budget, as_json, android_project,
                           ios_project, lowrank, strict)
    if scheme or lowrank is not None:
        _fail("--scheme and --lowrank are for language models: give an llm-* target and a language model", 2)
    from ..apps import metadata as app_metadata
    from ..model import sample
    from ..apps.install import AppTargets
    from ..workflows.export import export as run_export
    from .tables import export_table
    from ..verify.task_metric import TaskMetric

    with _one_line_errors():
        source, plan = _inputs(model, weights, input_shape, unsafe_allow_pickle, recipe, overrides, train_data)
        if max_metric_drop is not None and metric is None:
            raise UserError("--max-metric-drop bounds your --metric: give --metric path.py:fn too")
        app_info = sample.app_defaults() if source is None else {"labels": None, "normalization": None}
        if labels is not None:
            app_info["labels"] = app_metadata.read_labels(labels)
        command = _command(target=target, model=model, weights=weights, input_shape=input_shape, data=data,
                           calibration=calibration, labels_output=labels_output, recipe=recipe, set=overrides,
                           train_data=train_data, train_device=device if device != "cpu" else None, out=out,
                           cache_dir=cache_dir,
                           unsafe_allow_pickle=unsafe_allow_pickle, android_project=android_project,
                           assets_dir=assets_dir, ios_project=ios_project, labels=labels, metric=metric,
                           max_metric_drop=max_metric_drop, no_budget=no_budget, debug=debug, strict=strict)
        apps = AppTargets(android_project=android_project, assets_dir=assets_dir, ios_project=ios_project,
                          command=command, **app_info)
        result = run_export(source, target=_target(target, plan), data=data, calibration=calibration,
                            out=out, cache_dir=cache_dir, recipe=plan, device=device, progress=_progress(as_json),
                            apps=apps, enforce_budget=not no_budget,
                            metric=TaskMetric.parse(metric) if metric else None, max_metric_drop=max_metric_drop,
                            debug=debug, labels_output=labels_output, strict=strict)
        if profile_on:
            from ..profiling.profiler import profile_run
            from .tables import profile_table

            profiled = profile_run(result.out, result.manifest, tuple(profile_on))
    _emit(as_json, {**result.manifest, "reused": result.reused}, export_table(result))
    if profile_on and not as_json:
        stdout.print(profile_table(profiled))
    if result.failed:
        _fail(f"target {result.manifest['target']}: {', '.join(result.failed)} broke the budget and "
              f"{'was' if len(result.failed) == 1 else 'were'} not written; the other members were", 1)


def _language_model(target: Optional[str], model: Optional[str]) -> bool:
    from ..llm.model import is_language_model

    return bool(target and target.startswith("llm-")) or (model is not None and is_language_model(Path(model)))


def _export_llm(target, model, data, context, schemes, out, no_budget, as_json, android_project,
                ios_project, lowrank, strict) -> None:
    from ..workflows.export_llm import export_llm
    from .tables import llm_table

    with _one_line_errors():
        if model is None:
            raise UserError("LLM targets need --model: a Hugging Face folder (config.json, *.safetensors, tokenizer) "
                            "or a .gguf file")
        result = export_llm(Path(model), target=target or "llm-all", data=data, out=out, context=context,
                            enforce_budget=not no_budget, progress=_progress(as_json), schemes=tuple(schemes or ()),
                            android_project=android_project, ios_project=ios_project, lowrank=lowrank,
                            strict=strict)
    _emit(as_json, result.report, llm_table(result.report))
    if result.failed:
        _fail(f"{', '.join(result.failed)} broke the budget and {'was' if len(result.failed) == 1 else 'were'} "
              "not written; the other artifacts were", 1)


@app.command()
def generate(
    artifact: Annotated[Path, typer.Argument(help="An LLM artifact from an llm-* export (.gguf, .onnx, "
                                                  "OpenVINO .xml, .pte, .tflite, .mlpackage), its tokenizer/ folder "
                                                  "beside it; or a .litertlm bundle (LiteRT-LM).")],
    prompt: Annotated[str, typer.Option("--prompt", help="The text to continue.")],
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", help="Tokens to generate.")] = 64,
    threads: Annotated[int, typer.Option("--threads", help="CPU threads for the runtime.")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Continue a prompt greedily with an LLM artifact in its own runtime, streaming the text, with tokens/s."""
    from ..workflows.generate import generate as run_generate

    with _one_line_errors():
        result = run_generate(artifact, prompt, max_new_tokens, threads,
                              stream=None if as_json else lambda piece: stdout.out(piece, end="", highlight=False))
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    else:
        stdout.print(f"\n[dim]{result['new_tokens']} tokens, prefill {result['prefill_tokens_per_s']} tokens/s, "
                     f"decode {result['decode_tokens_per_s']} tokens/s ({result['runtime']})[/dim]")


@app.command()
def optimize(
    recipe: RecipeOpt = None, overrides: SetOpt = None, train_data: TrainOpt = None,
    target: Annotated[Optional[str], typer.Option(help="Target whose quantization scheme and channel multiple "
                                                       "apply [default: the recipe's first target, else onnx].")] = None,
    model: ModelOpt = None, weights: WeightsOpt = None, input_shape: ShapeOpt = None, data: DataOpt = None,
    calibration: CalibrationOpt = None, labels_output: LabelsOutputOpt = None, device: TrainDeviceOpt = "cpu",
    out: OutOpt = Path("out"),
    cache_dir: CacheOpt = None, unsafe_allow_pickle: PickleOpt = False, as_json: JsonOpt = False,
) -> None:
    """Prune, fine-tune with distillation and run INT8 QAT as the recipe says; write the optimized checkpoint."""
    from ..workflows.optimize import optimize as run_optimize
    from .tables import optimize_table

    with _one_line_errors():
        source, plan = _inputs(model, weights, input_shape, unsafe_allow_pickle, recipe, overrides, train_data)
        if plan is None:
            raise UserError("optimize needs a --recipe file or --set overrides naming the passes")
        result = run_optimize(plan, target=_target(target, plan), model=source, data=data, calibration=calibration,
                              out=out, cache_dir=cache_dir, device=device, progress=_progress(as_json),
                              labels_output=labels_output)
    _emit(as_json, {**result.manifest, "reused": result.reused}, optimize_table(result))


@app.command()
def debug(
    target: Annotated[Optional[str], typer.Option(help="Target whose int8 scheme applies [default: the recipe's "
                                                       "first target, else onnx].")] = None,
    model: ModelOpt = None, weights: WeightsOpt = None, input_shape: ShapeOpt = None, data: DataOpt = None,
    calibration: CalibrationOpt = None, labels_output: LabelsOutputOpt = None, recipe: RecipeOpt = None,
    overrides: SetOpt = None, train_data: TrainOpt = None, cache_dir: CacheOpt = None,
    unsafe_allow_pickle: PickleOpt = False,
    samples: Annotated[int, typer.Option(help="Held-out samples to measure on.")] = 128,
    top: Annotated[int, typer.Option(help="Rows of the ranking to print.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Rank the layers of the int8 model by the accuracy they lose: each layer's output against float, and the
    model's SQNR with that layer alone in int8 or alone kept in float ([quantize] keep_float)."""
    from ..workflows.debug import debug as run_debug
    from .tables import debug_table

    with _one_line_errors():
        source, plan = _inputs(model, weights, input_shape, unsafe_allow_pickle, recipe, overrides, train_data)
        if samples < 1:
            raise UserError(f"--samples {samples}: give at least 1")
        result = run_debug(source, target=_target(target, plan), data=data, calibration=calibration, recipe=plan,
                           cache_dir=cache_dir, samples=samples, progress=_progress(as_json),
                           labels_output=labels_output)
    _emit(as_json, result, debug_table(result, top))


def _command(**options) -> tuple[str, ...]:
    """The export command line that reproduces these options, for an app's build to re-run."""
    args = ["export"]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, list):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return tuple(args)


def _progress(as_json: bool) -> bool:
    return not as_json and sys.stderr.isatty()


@app.command()
def profile(
    artifacts: Annotated[list[Path], typer.Argument(help="Artifacts to profile (.tflite, .onnx, OpenVINO IR, .tflm); "
                                                      "several are measured interleaved, as ratios to the first.")],
    device: Annotated[list[str], typer.Option(help="Where to run: local (the host's runtimes), adb (the only "
                                                   "attached device), adb:SERIAL, or emulator (the emulated arm64 "
                                                   "phone). Repeatable: devices run in parallel.")] = ["local"],
    runs: Annotated[int, typer.Option(help="Timed runs per artifact.")] = 50,
    warmup: Annotated[int, typer.Option(help="Untimed runs first.")] = 10,
    threads: Annotated[int, typer.Option(help="Runtime threads.")] = 1,
    benchmark_model: Annotated[Optional[Path], typer.Option(help="TFLite's benchmark_model binary for the device's "
                                                            "ABI, for adb devices without python3.")] = None,
    instructions: Annotated[bool, typer.Option(help="Also count instructions per inference with valgrind "
                                                    "(callgrind, LiteRT on the host): repeatable under any load.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Latency (min, p50, p90, std, init, first run) and memory of artifacts, with the run conditions. An LLM
    artifact (from an llm-* export): prefill and decode tokens/s, time to first token, peak memory, at 1 and 2
    threads, against the memory-bandwidth bound."""
    from ..profiling.profiler import profile as run_profile
    from .tables import profile_table

    if llm := [a for a in artifacts if _llm_artifact(a)]:
        return _profile_llm(llm, artifacts, device, as_json)
    with _one_line_errors():
        report = run_profile(artifacts, tuple(device), runs=runs, warmup=warmup, threads=threads,
                             benchmark_model=benchmark_model, instructions=instructions)
    _emit(as_json, report, profile_table(report))


def _llm_artifact(path: Path) -> bool:
    """A file an llm-* export wrote: its llm.json beside it names it."""
    report = path.parent / "llm.json"
    return report.is_file() and any(a.get("path") == path.name for a in json.loads(report.read_text())["artifacts"])


def _profile_llm(llm: list[Path], artifacts: list[Path], device: list[str], as_json: bool) -> None:
    from ..profiling.llm import bandwidth_bytes_per_s, profile_llm
    from .tables import llm_profile_table

    with _one_line_errors():
        if len(llm) != len(artifacts):
            raise UserError("LLM artifacts are profiled apart from other artifacts: give only LLM artifacts")
        bandwidth = bandwidth_bytes_per_s() if "local" in device else None
        try:
            results = [profile_llm(a, (1, 2), bandwidth, spec) for spec in device for a in llm]
        except RuntimeError as e:
            raise UserError(str(e)) from None
    _emit(as_json, {"artifacts": results}, llm_profile_table(results))


device_app = typer.Typer(no_args_is_help=True, help="The emulated arm64 phone (adbd under qemu-user).")
app.add_typer(device_app, name="device")


@device_app.command("create")
def device_create(
    root: Annotated[Optional[Path], typer.Option(help="Where its root filesystem goes [default: "
                                                      "$SHRINK_EDGE_PHONE_ROOT or ~/.cache/shrink-edge-phone-arm64].")]
    = None,
) -> None:
    """Build the emulated phone: Debian arm64 + python3 + LiteRT/onnxruntime aarch64 wheels + adbd (as root)."""
    from ..profiling.devices import phone

    with _one_line_errors():
        made = phone.create(root or phone.default_root())
    stdout.print(f"emulated phone ready at {made}; profile on it with --device emulator")


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="Output folders of export runs (each with manifest.json), e.g. "
                                                    "one per target or pruning level.")],
    out: Annotated[Optional[Path], typer.Option(help="Folder for report.html and the PNG plots [default: "
                                                     "FIRST_RUN/report].")] = None,
) -> None:
    """Write a self-contained HTML report (and PNG plots) of size, accuracy and latency, with the run conditions."""
    from ..workflows.report import write_report

    with _one_line_errors():
        page = write_report(runs, out)
    stdout.print(f"wrote {page}")


@app.command("targets")
def list_targets(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """List the target specs, and what this install lacks to run each."""
    from ..config import targets
    from .tables import targets_table

    from ..backends import missing_extras, missing_llm_extras

    with _one_line_errors():
        specs = targets.available()
        needs = {name: missing_llm_extras([m.runtime for m in targets.members(s)]) if s.kind == "llm" else
                 missing_extras([f for m in targets.members(s) for f in m.artifacts]) for name, s in specs.items()}
    payload = {name: {"runtime": s.runtime, "kind": s.kind, "artifacts": list(s.artifacts or s.schemes),
                      "description": s.description,
                      "budget": vars(s.budget), "quantization": vars(s.quantization), "needs_extras": needs[name]}
               for name, s in specs.items()}
    _emit(as_json, payload, targets_table(specs, needs))


@app.command()
def inspect(
    artifact: Annotated[Path, typer.Argument(help="An artifact file, e.g. model.onnx.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print an artifact's size, ops census and input/output types."""
    from ..workflows.inspect import inspect_artifact
    from .tables import inspect_table

    with _one_line_errors():
        info = inspect_artifact(artifact)
    _emit(as_json, info, inspect_table(info))

