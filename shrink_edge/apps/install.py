"""Put a verified export into an Android or iOS project, with its metadata, a small helper and the build hook
that keeps it in sync. Files are rewritten only when their content changes, so the app's build tools see an
unchanged model as up to date."""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from . import metadata as app_metadata
from ..errors import UserError
from ..files import atomic_copy, atomic_write_text, package_data, tree_sha256

TEMPLATES = package_data("apps", "templates")
ANDROID_ASSETS = Path("app/src/main/assets")
ANDROID_KOTLIN = Path("app/src/main/java/dev/shrinkedge/ShrinkEdgeModel.kt")
IOS_RESOURCES = Path("ShrinkEdge/Resources")
# The artifact each platform takes, in order of preference, and its helper (and Gradle dependency) template.
ANDROID = {"tflite-int8": ("ShrinkEdgeModel.kt", None), "tflite-dynamic": ("ShrinkEdgeModel.kt", None),
           "tflite-fp16": ("ShrinkEdgeModel.kt", None),
           "executorch-int8": ("ShrinkEdgeModel.executorch.kt", "org.pytorch:executorch-android:1.0.1")}
IOS = {"coreml-int8": "ShrinkEdgeModel.swift", "coreml-fp16": "ShrinkEdgeModel.swift",
       "executorch-int8": "ShrinkEdgeModel.executorch.swift",
       "executorch-coreml-int8": "ShrinkEdgeModel.executorch.swift"}


@dataclass(frozen=True)
class AppTargets:
    android_project: Path | None = None
    assets_dir: Path | None = None
    ios_project: Path | None = None
    labels: list[str] | None = None
    normalization: dict | None = None
    command: tuple[str, ...] = ()   # the export command line to re-run from the build (after "shrink-edge")
    inputs: tuple[Path, ...] = ()   # the files the export reads (model source, weights, recipe, data)

    def any(self) -> bool:
        return any((self.android_project, self.assets_dir, self.ios_project))


def check(apps: AppTargets, formats: set[str]) -> None:
    """Refuse bad project paths and targets without the right artifact, before any work."""
    for flag, path in (("--android-project", apps.android_project), ("--assets-dir", apps.assets_dir),
                       ("--ios-project", apps.ios_project)):
        if path is None:
            continue
        if not Path(path).is_dir():
            raise UserError(f"{flag} {path} is not a folder; give the project's root folder (it must exist)")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UserError(f"{flag} {path} is not writable; fix its permissions or choose another folder")
    if (apps.android_project or apps.assets_dir) and not formats & set(ANDROID):
        raise UserError("--android-project/--assets-dir need a .tflite or a .pte: use --target tflite, tflite-dynamic, "
                        "tflite-fp16, executorch (or all)")
    if apps.ios_project and not formats & set(IOS):
        raise UserError("--ios-project needs a Core ML package or a .pte: use --target coreml, coreml-fp16, "
                        "executorch, executorch-coreml (or all)")


def install(apps: AppTargets, manifest: dict, out: Path) -> list[Path]:
    """Write what the apps need; returns the files that changed."""
    changed: list[Path] = []
    by_format = {a["format"]: a for a in manifest["artifacts"]}
    if apps.android_project or apps.assets_dir:
        fmt = next(f for f in ANDROID if f in by_format)
        template, dependency = ANDROID[fmt]
        assets = apps.assets_dir or apps.android_project / ANDROID_ASSETS
        metadata = _bundle(by_format[fmt], manifest, out, assets, apps, changed)
        if apps.android_project:
            root = apps.android_project
            kotlin = (TEMPLATES / template).read_text().replace("{{METADATA}}", metadata.name)
            _put(root / ANDROID_KOTLIN, kotlin, changed)
            _put(root / "shrink-edge.gradle.kts", _gradle(apps, root, assets, metadata, dependency), changed)
    if apps.ios_project:
        root = apps.ios_project
        fmt = next(f for f in IOS if f in by_format)
        metadata = _bundle(by_format[fmt], manifest, out, root / IOS_RESOURCES, apps, changed)
        swift = (TEMPLATES / IOS[fmt]).read_text().replace("{{METADATA_NAME}}", metadata.stem)
        _put(root / "ShrinkEdge" / "ShrinkEdgeModel.swift", swift, changed)
        _xcode(apps, root, metadata, changed)
    return changed


def _bundle(artifact: dict, manifest: dict, out: Path, folder: Path, apps: AppTargets, changed: list) -> Path:
    model = folder / artifact["file"]
    if not model.exists() or tree_sha256(model) != artifact["sha256"]:
        atomic_copy(out / artifact["file"], model)
        changed.append(model)
    metadata = folder / f"{artifact['file'].split('.')[0]}.metadata.json"
    if not _current(metadata, artifact, manifest):
        meta = app_metadata.build(artifact, manifest, out / artifact["file"], apps.labels, apps.normalization)
        _put(metadata, json.dumps(meta, indent=2) + "\n", changed)
    return metadata


def _current(metadata: Path, artifact: dict, manifest: dict) -> bool:
    """Metadata written for this very run and artifact needs no rebuilding (keeps no-op builds fast)."""
    try:
        meta = json.loads(metadata.read_text())
    except (OSError, ValueError):
        return False
    return meta.get("run_key") == manifest["run_key"] and meta.get("sha256") == artifact["sha256"]


def _put(path: Path, text: str, changed: list) -> None:
    if path.is_file() and path.read_text() == text:
        return
    atomic_write_text(path, text)
    changed.append(path)


def _rel(path: Path, start: Path) -> str:
    return os.path.relpath(Path(path).resolve(), Path(start).resolve())


def _kotlin_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _gradle(apps: AppTargets, root: Path, assets: Path, metadata: Path, dependency: str | None) -> str:
    files = lambda paths: ", ".join(_kotlin_string(_rel(p, root)) for p in paths)  # noqa: E731
    outputs = sorted(p for p in assets.iterdir() if p.name.split(".")[0] == metadata.name.split(".")[0])
    return ((TEMPLATES / "shrink-edge.gradle.kts").read_text()
            .replace("{{WORKDIR}}", _rel(Path.cwd(), root))
            .replace("{{INPUTS}}", files(apps.inputs))
            .replace("{{OUTPUTS}}", files(outputs))
            .replace("{{COMMAND}}", ", ".join(_kotlin_string(a) for a in ("shrink-edge", *apps.command)))
            .replace("{{DEPENDENCIES}}\n", f"\ndependencies {{ add(\"implementation\", {_kotlin_string(dependency)}) }}\n"
                     if dependency else ""))


def _xcode(apps: AppTargets, root: Path, metadata: Path, changed: list) -> None:
    script = ((TEMPLATES / "shrink-edge-build-phase.sh").read_text()
              .replace("{{WORKDIR}}", _rel(Path.cwd(), root))
              .replace("{{ARGS}}", " ".join(shlex.quote(a) for a in apps.command)))
    path = root / "shrink-edge-build-phase.sh"
    _put(path, script, changed)
    path.chmod(0o755)
    srcroot = lambda p: f"$(SRCROOT)/{_rel(p, root)}"  # noqa: E731
    _put(root / "shrink-edge-inputs.xcfilelist", "\n".join(srcroot(p) for p in apps.inputs) + "\n", changed)
    outputs = sorted(p for p in metadata.parent.iterdir() if p.name.split(".")[0] == metadata.name.split(".")[0])
    _put(root / "shrink-edge-outputs.xcfilelist", "\n".join(srcroot(p) for p in outputs) + "\n", changed)
