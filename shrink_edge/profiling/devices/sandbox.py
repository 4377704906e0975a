"""A real adbd on this machine, run in its own network and mount namespaces and chrooted into a root filesystem:
it listens only inside its namespace (where our adb client and server join it via nsenter) and writes only into
its own root, never the host's /data. The emulated phone is one such root (arm64, run by qemu-user); the tests
use an overlay of the host's own root as a cheap x86_64 device."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ...errors import DeviceError
from .adb import Adb

# Constant script; the root, port and optional overlay lower layer arrive as positional arguments.
_START = r"""
set -e
root=$1 port=$2 lower=$3
mount --make-rprivate /
if [ -n "$lower" ]; then
  mkdir -p "$root/upper" "$root/work" "$root/merged"
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$root/upper,workdir=$root/work" "$root/merged"
  root=$root/merged
fi
for d in proc sys dev; do mount --rbind "/$d" "$root/$d"; done
mkdir -p "$root/data/local/tmp"
ip link set lo up
exec chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root ADBD_PORT="$port" /usr/sbin/adbd
"""
START_TIMEOUT_S = 120


class AdbdSandbox:
    """Context manager: starts adbd in `root` (or in an overlay of `lower` kept in `root`), yields an Adb client."""

    def __init__(self, root: Path, lower: Path | None = None, port: int = 5600):
        self.root, self.lower, self.port = Path(root), lower, port
        self.process: subprocess.Popen | None = None
        self.netns: int | None = None

    def __enter__(self) -> Adb:
        if os.geteuid() != 0:
            raise DeviceError("the emulated device needs root (network/mount namespaces and chroot): run as root, "
                              "or profile on a real device with --device adb")
        for tool in ("unshare", "nsenter", "chroot", "ip", "adb"):
            if shutil.which(tool) is None:
                raise DeviceError(f"{tool} not found on PATH: install util-linux, iproute2 and adb")
        self.log = tempfile.NamedTemporaryFile(prefix="shrink-edge-adbd-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            ["unshare", "--net", "--mount", "--fork", "--kill-child", "sh", "-c", _START, "adbd-sandbox",
             str(self.root), str(self.port), str(self.lower or "")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        self.netns = self._hold_namespace(deadline)
        self.adb = adb = Adb(f"127.0.0.1:{self.port}", ("nsenter", f"--net=/proc/{os.getpid()}/fd/{self.netns}", "--"))
        while True:
            if self.process.poll() is not None:
                self.__exit__(None, None, None)
                raise DeviceError(f"the emulated device's adbd exited at start: {self._last_log_line()}")
            connect = subprocess.run([*adb.prefix, "adb", "connect", adb.serial], capture_output=True, text=True,
                                     timeout=60)
            if connect.stdout.startswith(("connected to", "already connected")) and adb.state() == "device":
                return adb
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise DeviceError(f"the emulated device did not come up in {START_TIMEOUT_S} s: "
                                  f"{self._last_log_line()}")
            time.sleep(0.5)

    def _hold_namespace(self, deadline: float) -> int:
        """An open handle on the sandbox's network namespace: it outlives adbd, so the adb server inside can
        always be stopped, even after the device was pulled."""
        ours = os.readlink("/proc/self/ns/net")
        while True:
            try:
                if os.readlink(f"/proc/{self.process.pid}/ns/net") != ours:
                    return os.open(f"/proc/{self.process.pid}/ns/net", os.O_RDONLY)
            except FileNotFoundError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise DeviceError(f"the emulated device's namespace did not start: {self._last_log_line()}")
            time.sleep(0.05)

    def _last_log_line(self) -> str:
        lines = Path(self.log.name).read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no output"

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        if getattr(self, "netns", None) is not None:
            subprocess.run([*self.adb.prefix, "adb", "kill-server"], capture_output=True, timeout=60)
            os.close(self.netns)
            self.netns = None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
        self.process = None

    def kill(self) -> None:
        """Pull the plug: the device vanishes as a phone does when its cable comes out (for tests)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
