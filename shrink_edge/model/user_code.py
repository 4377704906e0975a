"""Import a function or class from a Python file the user names (a model factory, a task metric)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from ..errors import UserError, first_line


def load_callable(file: Path, name: str, prefix: str, hint: str):
    """`name` from `file`, imported as module `prefix_<stem>`; `hint` says what it should be if it is missing."""
    module_name = f"{prefix}_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise UserError(f"cannot import {file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's code can raise anything
        raise UserError(f"cannot import {file}: {type(e).__name__}: {first_line(e)}") from None
    found = getattr(module, name, None)
    if not callable(found):
        raise UserError(f"{file} has no callable '{name}'; {hint}")
    return found
