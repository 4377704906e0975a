"""A thin client over the real `adb` program: argument lists only, remote command lines built with shlex quoting,
and every failure turned into one line that names the device."""
from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import DeviceError

TIMEOUT_S = 600


@dataclass(frozen=True)
class Adb:
    serial: str | None = None
    prefix: tuple[str, ...] = field(default=())  # e.g. nsenter into the network namespace of an emulated phone

    @property
    def name(self) -> str:
        return self.serial or "the only adb device"

    def _run(self, args: list[str], what: str, timeout: float = TIMEOUT_S,
             check: bool = True) -> subprocess.CompletedProcess:
        if shutil.which("adb") is None:
            raise DeviceError("adb not found on PATH: install it (Debian: apt install adb; or Android platform-tools)")
        serial = ["-s", self.serial] if self.serial else []
        try:
            done = subprocess.run([*self.prefix, "adb", *serial, *args], capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"device {self.name}: {what} did not finish in {timeout:.0f} s") from None
        if check and done.returncode != 0:
            self.check()  # a device that vanished says so rather than blaming the command
            raise DeviceError(f"device {self.name}: {what} failed: {_reason(done)}")
        return done

    def state(self) -> str:
        """adb's word for the device: "device" when online; the error otherwise."""
        done = self._run(["get-state"], "checking the device", timeout=60, check=False)
        return done.stdout.strip() if done.returncode == 0 else _reason(done)

    def check(self) -> None:
        """Fail with one line unless the device is attached and online."""
        if (state := self.state()) != "device":
            listed = self._run(["devices"], "listing devices", timeout=60, check=False).stdout.splitlines()[1:]
            attached = [line.split()[0] for line in listed if line.strip()]
            raise DeviceError(f"device {self.name} is not available ({state}); adb lists: "
                              f"{', '.join(attached) or 'no devices'} (check the connection, or `adb connect`)")

    def shell(self, argv: list[str], what: str, timeout: float = TIMEOUT_S) -> str:
        """Run a command on the device; a non-zero exit or a lost device raises DeviceError."""
        return self._run(["shell", shlex.join(argv)], what, timeout).stdout

    def push(self, local: Path, remote: str) -> None:
        self._run(["push", str(local), remote], f"pushing {local.name}")

    def pull(self, remote: str, local: Path) -> None:
        self._run(["pull", remote, str(local)], f"pulling {remote}")

    def abi(self) -> str:
        """The CPU ABI: Android's property, or `uname -m` on devices without getprop (Linux boards)."""
        done = self._run(["shell", "getprop ro.product.cpu.abi"], "reading the ABI", check=False)
        abi = done.stdout.strip() if done.returncode == 0 else ""
        return abi or self.shell(["uname", "-m"], "reading the machine type").strip()


def _reason(done: subprocess.CompletedProcess) -> str:
    lines = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
    return lines[-1].removeprefix("adb: ").removeprefix("error: ")
