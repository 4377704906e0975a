"""`shrink-edge profile --device adb:SERIAL`: a real adb client and server talking to a real adbd.

The device is the cheap x86_64 one: adbd chrooted into an overlay of this machine's root, in its own network and
mount namespaces (it never listens on the host's network nor writes the host's /data). The CLI runs as a
subprocess inside that network namespace, as a user's shell would sit beside their adb server."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shrink_edge.profiling.devices.sandbox import AdbdSandbox

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("adb") and Path("/usr/sbin/adbd").exists() and shutil.which("nsenter")),
    reason="needs root, adb and adbd (bookworm-backports): scripts/setup.sh installs them when run as root")

CLI = [sys.executable, "-m", "shrink_edge.cli"]


def _device(root: Path, port: int) -> AdbdSandbox:
    """An overlay of / whose python3 is this test's interpreter (the device 'has Python')."""
    wrapper = root / "upper/usr/local/bin/python3"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    return AdbdSandbox(root, lower=Path("/"), port=port)


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    sandbox = _device(tmp_path_factory.mktemp("device"), 5601)
    with sandbox as adb:
        yield adb


def _profile(adb, *args, timeout=300):
    return subprocess.run([*adb.prefix, *CLI, "profile", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _leftovers(adb) -> list[str]:
    return adb.shell(["ls", "/data/local/tmp"], "listing").split()


def test_profiles_on_the_device_and_cleans_up(device, all_targets):
    out, _, artifacts = all_targets
    files = [out / artifacts["tflite-int8"]["file"], out / artifacts["onnx-int8"]["file"]]
    shown = _profile(device, *files, "--device", f"adb:{device.serial}", "--runs", "10", "--warmup", "2", "--json")
    assert shown.returncode == 0, shown.stderr
    [report] = json.loads(shown.stdout)["profiles"]
    c = report["conditions"]
    assert c["device"] == f"adb:{device.serial}" and c["abi"] == "x86_64" and not c["emulated"]  # no getprop here
    assert {"ai-edge-litert", "onnxruntime"} <= set(c["versions"]) and c["threads"] == 1
    assert [r["runtime"] for r in report["results"]] == ["litert", "onnxruntime"]
    assert [r["artifact"] for r in report["results"]] == [str(f) for f in files]
    for r in report["results"]:
        assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] and r["runs"] == 10
    assert report["results"][1]["p50_ratio_to_first"] > 0
    assert _leftovers(device) == []


def test_third_party_files_on_the_device(device, third_party):
    shown = _profile(device, *third_party, "--device", f"adb:{device.serial}", "--runs", "5", "--json")
    assert shown.returncode == 0, shown.stderr
    [report] = json.loads(shown.stdout)["profiles"]
    assert [r["runtime"] for r in report["results"]] == ["onnxruntime", "litert"]


def test_two_devices_in_parallel(device, all_targets):
    """The same phone named two ways: two concurrent sessions, each in its own remote folder."""
    out, _, artifacts = all_targets
    shown = _profile(device, out / artifacts["tflite-int8"]["file"], "--device", "adb", "--device",
                     f"adb:{device.serial}", "--runs", "5", "--json")
    assert shown.returncode == 0, shown.stderr
    profiles = json.loads(shown.stdout)["profiles"]
    assert [p["conditions"]["device"] for p in profiles] == ["adb", f"adb:{device.serial}"]
    assert _leftovers(device) == []


def test_runner_failure_is_one_line(device, tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"TFL3 but not a model")
    shown = _profile(device, broken, "--device", f"adb:{device.serial}", "--runs", "5")
    assert shown.returncode == 3 and "litert cannot run" in shown.stderr
    assert len(shown.stderr.strip().splitlines()) == 1
    assert _leftovers(device) == []


def test_missing_device(device, all_targets):
    out, _, artifacts = all_targets
    shown = _profile(device, out / artifacts["tflite-int8"]["file"], "--device", "adb:127.0.0.1:5999")
    assert shown.returncode == 3 and "device 127.0.0.1:5999 is not available" in shown.stderr
    assert f"adb lists: {device.serial}" in shown.stderr and len(shown.stderr.strip().splitlines()) == 1


def test_device_pulled_mid_run(tmp_path, all_targets):
    out, _, artifacts = all_targets
    sandbox = _device(tmp_path, 5602)
    with sandbox as adb:
        run = subprocess.Popen([*adb.prefix, *CLI, "profile", str(out / artifacts["onnx-int8"]["file"]), "--device",
                                f"adb:{adb.serial}", "--runs", "1000000"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not any(name.startswith("shrink-edge-") for name in _leftovers(adb)):
            assert time.monotonic() < deadline and run.poll() is None
            time.sleep(0.5)
        time.sleep(2)  # the runner is timing now
        sandbox.kill()
        _, stderr = run.communicate(timeout=120)
    assert run.returncode == 3 and f"device {adb.serial} is not available" in stderr
    assert len(stderr.strip().splitlines()) == 1
