"""The converter graph's planner: shortest paths between formats, and a clear error when there is none."""
import pytest

from shrink_edge.errors import UserError
from shrink_edge.engine.graph import plan


def test_plan_from_torch_to_int8_onnx_goes_through_ptq():
    assert [p.name for p in plan("torch", "onnx-int8")] == ["torch-export", "ptq", "onnx-export-int8"]


def test_plan_from_a_program_skips_the_export():
    assert [p.name for p in plan("pt2", "onnx")] == ["onnx-export"]


def test_plan_to_the_same_format_is_empty():
    assert plan("onnx", "onnx") == []


def test_unreachable_format_is_a_user_error():
    with pytest.raises(UserError, match="no conversion path from a onnx model to pt2"):
        plan("onnx", "pt2")
