"""The backend layout holds: every target names a backend, every artifact format has one backend whose runtime
verifies it, the converter graph reaches it from the model, and the profiler finds the runtimes that time files."""
from pathlib import Path

import pytest

from shrink_edge.config import targets
from shrink_edge.backends import BACKENDS, FORMATS, PASSES, backend, owner
from shrink_edge.profiling.devices import runner
from shrink_edge.errors import UserError
from shrink_edge.llm.weights import Scheme
from shrink_edge.engine.graph import reachable


@pytest.mark.parametrize("spec", [s for s in targets.available().values() if not s.include], ids=lambda s: s.name)
def test_every_target_names_a_backend_that_writes_its_artifacts(spec):
    """Its own backend writes one of them at least; another may verify a source it builds on (Ethos-U's .tflite).
    A language-model target: its backend writes language models, and every scheme it names is one."""
    assert spec.runtime in BACKENDS
    if spec.kind == "llm":
        assert BACKENDS[spec.runtime].llm is not None and spec.schemes and not spec.artifacts
        assert all(Scheme.parse(name).name == name for name in spec.schemes)
        return
    assert any(owner(fmt) is BACKENDS[spec.runtime] for fmt in spec.artifacts)
    for fmt in spec.artifacts:
        assert owner(fmt) is not None and reachable("torch", fmt), fmt


def test_every_format_is_written_by_exactly_one_pass_and_owned_by_one_backend():
    written = [p.target for p in PASSES]
    assert len(written) == len(set(written)) and set(written) == set(FORMATS) - {"torch"}
    for name, b in BACKENDS.items():
        assert {p.target for p in b.passes} <= {f.name for f in b.formats}, name


def test_an_unknown_runtime_is_one_clear_error():
    with pytest.raises(UserError, match="unknown runtime 'tvm'.*backends: .*litert"):
        backend("tvm")


@pytest.mark.parametrize("suffix,runtime", [(".int8.tflite", "litert"), (".int8.onnx", "onnxruntime")])
def test_the_profiler_finds_the_runtime_of_a_file_through_the_backends(tmp_path, suffix, runtime):
    path = tmp_path / f"m{suffix}"
    path.write_bytes(b"")
    assert runner.runtime_of(path) == runtime
    assert runner.runtime_of(tmp_path / "m.bin") is None
    assert set(runner.timing_modules()) <= set(BACKENDS)


def test_a_folder_artifact_is_claimed_by_what_it_holds(tmp_path):
    (tmp_path / "ir").mkdir()
    (tmp_path / "ir" / "model.xml").write_text("<net/>")
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "tflm.json").write_text("{}")
    assert runner.runtime_of(tmp_path / "ir") == "openvino"
    assert runner.runtime_of(tmp_path / "bundle") == "tflm"
    assert runner.runtime_of(Path(tmp_path)) is None
