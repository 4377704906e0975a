"""Timing a .pte in ExecuTorch's runtime, for the profiler's runner (standalone: numpy and the runtime only). The
inputs are set once; each timed call is `execute` alone, on a threadpool of `threads` threads (ExecuTorch's default
is one per core).

On the host, executorch's Python runtime. Where that cannot run, the C timer (pte_timer.cpp) through ctypes: the
pybindings need libtorch, and torch 2.13.0's aarch64 wheel is a CUDA build (libtorch_cuda.so alone is 430 MB, and it
pulls the nvidia-* wheels). The emulated phone gets the executorch wheel without its dependencies and the timer,
compiled inside the phone against the wheel's own libraries and headers (build_on_phone)."""
import ctypes
import subprocess
from pathlib import Path

RUNTIME = "executorch"
PACKAGE = "executorch"
TIMER = Path("/usr/local/lib/shrink-edge/libpte_timer.so")  # where build_on_phone puts it, inside the device
WHEEL = Path("/usr/local/lib/python3.11/dist-packages/executorch")
DTYPES = {6: "float32", 4: "int64", 3: "int32", 11: "bool", 0: "uint8", 1: "int8"}  # c10::ScalarType
CORE_ML = ".coreml.int8.pte"  # the Core ML delegate's .pte: it runs on Apple devices only
ETHOS_U = ".ethos-u.int8.pte"  # the Ethos-U delegate's .pte: it runs on the NPU only
TOSA = ".tosa.int8.pte"  # the TOSA delegate's .pte: run in the TOSA reference model, which is no timing


def claims(path: Path) -> bool:
    return path.suffix == ".pte" and not path.name.endswith((CORE_ML, ETHOS_U, TOSA))


def load(path: Path, threads: int, random_input):
    try:
        from executorch.runtime import Runtime
    except ImportError:
        if TIMER.is_file():
            return _Timer(path, threads, random_input)
        raise
    import numpy as np
    import torch
    from executorch.extension.pybindings import portable_lib

    portable_lib._unsafe_reset_threadpool(threads)
    method = Runtime.get().load_program(str(path)).load_method("forward")
    meta = method.metadata
    inputs = []
    for i in range(meta.num_inputs()):
        info = meta.input_tensor_meta(i)
        dtype = np.dtype(DTYPES.get(int(info.dtype()), "float32"))
        inputs.append(torch.from_numpy(random_input(list(info.sizes()), dtype, False)))
    return lambda: method.execute(inputs)


class _Timer:
    """The C timer's handle and the input arrays it reads (kept alive here); calling it runs forward once."""

    def __init__(self, path: Path, threads: int, random_input):
        import numpy as np

        self.lib, self.error, self.inputs = ctypes.CDLL(str(TIMER)), ctypes.create_string_buffer(256), []
        self.lib.pte_open.restype = ctypes.c_void_p
        self.lib.pte_num_inputs.restype = ctypes.c_size_t
        self.lib.pte_threads(ctypes.c_uint(threads))
        handle = self.lib.pte_open(str(path).encode(), self.error, ctypes.c_size_t(len(self.error)))
        if not handle:
            raise RuntimeError(self.error.value.decode())
        self.handle = ctypes.c_void_p(handle)
        for i in range(self.lib.pte_num_inputs(self.handle)):
            dtype, rank, sizes = ctypes.c_int(), ctypes.c_size_t(), (ctypes.c_int32 * 16)()
            if self.lib.pte_input(self.handle, ctypes.c_size_t(i), ctypes.byref(dtype), ctypes.byref(rank), sizes,
                                  ctypes.c_size_t(16)) != 0:
                raise RuntimeError(f"input {i} of {path.name} is not a tensor")
            shape, kind = list(sizes[:rank.value]), np.dtype(DTYPES.get(dtype.value, "float32"))
            self.inputs.append(np.ascontiguousarray(random_input(shape, kind, False)))
            self._check(self.lib.pte_set_input(self.handle, ctypes.c_size_t(i),
                                               self.inputs[-1].ctypes.data_as(ctypes.c_void_p), *self._error()))

    def _error(self):
        return self.error, ctypes.c_size_t(len(self.error))

    def _check(self, status: int) -> None:
        if status != 0:
            raise RuntimeError(self.error.value.decode())

    def __call__(self) -> None:
        self._check(self.lib.pte_run(self.handle, *self._error()))

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.pte_close(self.handle)


def compile_timer(source: Path, wheel: Path, out: Path) -> list[str]:
    """The g++ command that builds the timer from `source` against an installed executorch wheel's libraries."""
    include = wheel / "include"
    return ["g++", "-O2", "-shared", "-fPIC", "-std=c++17", "-DC10_USING_CUSTOM_GENERATED_MACROS",
            "-Wno-deprecated-declarations", f"-I{include}", f"-I{include}/executorch/runtime/core/portable_type/c10",
            str(source), "-o", str(out), f"-L{wheel}/lib", "-Wl,--no-as-needed", "-lexecutorch",
            "-lexecutorch_kernels_optimized", "-lexecutorch_kernels_quantized", "-lexecutorch_backend_xnnpack",
            "-lexecutorch_threadpool", f"-Wl,-rpath,{wheel}/lib"]


def build_on_phone(root: Path) -> None:
    """Compile the timer inside the phone's root (its g++ under qemu), against the wheel installed there."""
    (root / TIMER.relative_to("/")).parent.mkdir(parents=True, exist_ok=True)
    source = root / "tmp/pte_timer.cpp"
    source.write_bytes(Path(__file__).with_name("pte_timer.cpp").read_bytes())
    try:
        subprocess.run(["chroot", str(root), *compile_timer(Path("/tmp/pte_timer.cpp"), WHEEL, TIMER)], check=True,
                       capture_output=True, text=True)
    finally:
        source.unlink()
