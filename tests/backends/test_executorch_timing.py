"""Timing a .pte: on the host the Python runtime runs on the threads asked for (ExecuTorch's default is one per
core); the C timer that the emulated phone uses (no torch there) loads a .pte with a float and a token-id input, runs
it, and names what is wrong with a file it cannot load."""
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from shrink_edge.backends.executorch import timing
from shrink_edge.profiling.devices.runner import random_input


class TwoInputs(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.embed = torch.nn.Conv2d(3, 8, 3), torch.nn.Embedding(10, 4)

    def forward(self, x, ids):
        return self.conv(x).mean((2, 3), keepdim=True).flatten(1), self.embed(ids)


@pytest.fixture(scope="module")
def pte(tmp_path_factory):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(TwoInputs().eval(), (torch.rand(1, 3, 16, 16), torch.zeros(1, 5, dtype=torch.long)))
    path = tmp_path_factory.mktemp("pte") / "two_inputs.pte"
    path.write_bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)
    return path


@pytest.mark.parametrize("threads", [1, 2])
def test_host_timing_uses_the_threads_asked_for(pte, threads):
    from executorch.extension.pybindings import portable_lib

    timing.load(pte, threads, random_input)()
    assert portable_lib._threadpool_get_thread_count() == threads


@pytest.fixture(scope="module")
def timer(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ not found: the C timer is compiled from source")
    import executorch

    wheel = Path(executorch.__path__[0])  # a namespace package: no __file__
    out = tmp_path_factory.mktemp("timer") / "libpte_timer.so"
    source = Path(timing.__file__).with_name("pte_timer.cpp")
    subprocess.run(timing.compile_timer(source, wheel, out), check=True)
    return out


def test_c_timer_runs_a_pte_with_a_token_id_input(pte, timer, monkeypatch):
    monkeypatch.setattr(timing, "TIMER", timer)
    run = timing._Timer(pte, 1, random_input)
    run()
    assert [(a.shape, a.dtype.name) for a in run.inputs] == [((1, 3, 16, 16), "float32"), ((1, 5), "int64")]


def test_c_timer_names_a_file_it_cannot_load(timer, monkeypatch, tmp_path):
    monkeypatch.setattr(timing, "TIMER", timer)
    broken = tmp_path / "broken.pte"
    broken.write_bytes(b"not a program" * 10)
    with pytest.raises(RuntimeError, match="cannot load method forward"):
        timing._Timer(broken, 1, random_input)
