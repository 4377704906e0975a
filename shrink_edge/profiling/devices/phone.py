"""The emulated arm64 phone: a Debian arm64 root filesystem with python3, the aarch64 wheels of the device runtimes
(LiteRT, onnxruntime, ExecuTorch: each backend's timing.py says what it needs) and adbd, run by qemu-user through binfmt_misc inside an AdbdSandbox. Emulated time is hundreds of times
slower than a real phone: its timings prove that the path works and are labelled emulated, never latency."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from ...errors import DeviceError
from ...backends import phone_timings
from .sandbox import AdbdSandbox

SUITE = "bookworm"  # its python3 is 3.11: the wheels below are chosen for that
MIRRORS = ("deb http://deb.debian.org/debian bookworm main",
           "deb http://deb.debian.org/debian bookworm-backports main")  # adbd 34 is only in backports
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_RULE = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
MARKER = "etc/shrink-edge-phone.json"


def wheels() -> list[str]:
    """The host's versions of the device runtimes, so both sides run the same ones."""
    return [*(t.module.PACKAGE for t in phone_timings()), "numpy"]


def default_root() -> Path:
    """Beside, not inside, the artifact cache: clearing the cache should not cost a 3-minute rebuild."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("SHRINK_EDGE_PHONE_ROOT") or cache / "shrink-edge-phone-arm64")


def ensure_binfmt() -> None:
    """Register qemu-aarch64 with the kernel (a fresh container often has binfmt_misc unmounted)."""
    if (BINFMT / "qemu-aarch64").exists():
        return
    if not QEMU_RULE.is_file():
        raise DeviceError("qemu-aarch64 is not installed: apt install -t bookworm-backports qemu-user-static "
                          "(qemu 10; bookworm's 7.2 crashes LiteRT and onnxruntime)")
    if not (BINFMT / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=False, capture_output=True)
    try:
        (BINFMT / "register").write_text(QEMU_RULE.read_text().strip())
    except OSError as e:
        raise DeviceError(f"cannot register qemu-aarch64 with binfmt_misc ({e.strerror}): run as root") from None


def create(root: Path, log=sys.stderr) -> Path:
    """Build the phone's root filesystem in `root` (whole or not at all)."""
    if os.geteuid() != 0:
        raise DeviceError("creating the emulated phone needs root (mmdebstrap, binfmt_misc): run as root")
    if shutil.which("mmdebstrap") is None:
        raise DeviceError("mmdebstrap not found: apt install mmdebstrap")
    ensure_binfmt()
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    runtimes = phone_timings()
    debs = ",".join(["python3", "adbd/bookworm-backports", *(deb for t in runtimes for deb in t.phone_packages)])
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--only-binary=:all:", "--python-version", "3.11",
           "--implementation", "cp", "--platform", "manylinux_2_28_aarch64", "--platform", "manylinux_2_27_aarch64",
           "--platform", "manylinux2014_aarch64", "--target", str(partial / "usr/local/lib/python3.11/dist-packages")]
    with_deps = [t.module.PACKAGE for t in runtimes if t.phone_wheel_deps] + ["numpy"]
    without_deps = [t.module.PACKAGE for t in runtimes if not t.phone_wheel_deps]
    steps = [
        ["mmdebstrap", "--arch=arm64", "--variant=apt", f"--include={debs}", SUITE, str(partial), *MIRRORS],
        [*pip, *(f"{name}=={version(name)}" for name in with_deps)],
        *([[*pip, "--no-deps", *(f"{name}=={version(name)}" for name in without_deps)]] if without_deps else []),
    ]
    for step in steps:
        print(f"running: {' '.join(step[:4])} ...", file=log)
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
            raise DeviceError(f"building the emulated phone failed at {step[0]}: {' '.join(last)}")
    for t in runtimes:
        if t.build_on_phone is not None:
            print(f"building {t.module.RUNTIME}'s timer in the phone ...", file=log)
            try:
                t.build_on_phone(partial)
            except subprocess.CalledProcessError as e:
                shutil.rmtree(partial, ignore_errors=True)
                last = (e.stderr or "").strip().splitlines()[-1:]
                raise DeviceError(f"building the emulated phone failed at {t.module.RUNTIME}'s timer: "
                                  f"{' '.join(last)}") from None
    (partial / "data/local/tmp").mkdir(parents=True, exist_ok=True)
    (partial / MARKER).write_text(json.dumps({"suite": SUITE, "arch": "arm64",
                                              "wheels": {name: version(name) for name in wheels()}}, indent=2))
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def missing_wheels(root: Path) -> list[str]:
    """The host's runtimes that the phone at root was not built with (name==version)."""
    built = json.loads((root / MARKER).read_text()).get("wheels", {})
    return sorted(f"{name}=={version(name)}" for name in wheels() if built.get(name) != version(name))


def emulated_phone(root: Path | None = None) -> AdbdSandbox:
    root = Path(root or default_root())
    if not (root / MARKER).is_file():
        raise DeviceError(f"no emulated phone at {root}: create it with `shrink-edge device create` "
                          "(as root, ~3 min; or set SHRINK_EDGE_PHONE_ROOT)")
    if stale := missing_wheels(root):
        raise DeviceError(f"the emulated phone at {root} lacks {', '.join(stale)} (the host's runtimes): rebuild it "
                          "with `shrink-edge device create`")
    ensure_binfmt()
    return AdbdSandbox(root)
