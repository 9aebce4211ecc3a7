"""The public API of actors.runtime: exactly these names, each resolving, each owned by the public
module, and a runtime that imports nothing but trio and the standard library."""

from __future__ import annotations

import ast
import sys
import typing
from pathlib import Path

import actors.runtime

EXPECTED = {
    "Actor",
    "ActorCrashed",
    "ActorError",
    "ActorRef",
    "ActorStopped",
    "AskTimeout",
    "ChildInfo",
    "ChildSpec",
    "Context",
    "MailboxFull",
    "MailboxStatistics",
    "Registry",
    "Restart",
    "RestartEvent",
    "RestartIntensity",
    "RestartIntensityExceeded",
    "Strategy",
    "Supervisor",
    "SupervisorStatistics",
    "open_supervisor",
}

RUNTIME_DIR = Path(actors.runtime.__file__).parent


def test_all_lists_exactly_the_public_api() -> None:
    assert set(actors.runtime.__all__) == EXPECTED
    assert len(actors.runtime.__all__) == len(EXPECTED)


def test_every_public_name_resolves_to_an_object_of_a_private_module() -> None:
    for name in actors.runtime.__all__:
        obj = getattr(actors.runtime, name)
        assert obj.__name__ == name
        assert obj.__module__.startswith("actors.runtime._"), name
        assert typing.get_type_hints(obj) is not None  # annotations resolve where they are defined


def test_nothing_public_is_left_out_of_all() -> None:
    public = {name for name in vars(actors.runtime) if not name.startswith("_")}
    assert public == EXPECTED


def test_implementation_modules_are_private() -> None:
    modules = {path.name for path in RUNTIME_DIR.glob("*.py")}
    assert modules - {"__init__.py"}
    assert all(name.startswith("_") for name in modules)


def test_the_runtime_imports_only_trio_and_the_standard_library() -> None:
    for path in RUNTIME_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                allowed = top in sys.stdlib_module_names or top == "trio" or name.startswith("actors.runtime")
                assert allowed, f"{path.name} imports {name}"


def test_error_codes_are_distinct_and_stable() -> None:
    errors = [getattr(actors.runtime, name) for name in EXPECTED]
    codes = {e.code: e.__name__ for e in errors if isinstance(e, type) and issubclass(e, actors.runtime.ActorError)}
    assert codes == {
        "actor_error": "ActorError",
        "mailbox_full": "MailboxFull",
        "actor_stopped": "ActorStopped",
        "actor_crashed": "ActorCrashed",
        "ask_timeout": "AskTimeout",
        "restart_intensity_exceeded": "RestartIntensityExceeded",
    }
    assert issubclass(actors.runtime.AskTimeout, TimeoutError)


def test_every_runtime_module_opens_with_a_docstring_and_stays_small() -> None:
    for path in RUNTIME_DIR.glob("*.py"):
        source = path.read_text()
        assert ast.get_docstring(ast.parse(source)), f"{path.name} needs a module docstring"
        assert len(source.splitlines()) <= 400, f"{path.name} is over 400 lines: split it by concept"
