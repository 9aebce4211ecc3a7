"""The client packages' public APIs: every name in `__all__` resolves, and the packages import nothing of
the server (they install on their own: `test_install.py`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import stoa_client
import stoa_protocol

SERVER_PACKAGES = {"actors", "gateway", "mixer", "store", "loadtest", "bench", "numpy", "matplotlib"}


@pytest.mark.parametrize("package", [stoa_protocol, stoa_client], ids=lambda m: m.__name__)
def test_every_public_name_resolves_and_nothing_of_the_server_is_imported(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert names and len(set(names)) == len(names)
    for name in names:
        assert getattr(package, name) is not None, name
    folder = Path(package.__file__).parent  # type: ignore[attr-defined]
    for source in folder.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                roots = {node.module.split(".")[0]}
            else:
                continue
            assert not roots & SERVER_PACKAGES, f"{source.name} imports {roots & SERVER_PACKAGES}"


def test_the_protocol_package_needs_only_msgspec() -> None:
    folder = Path(stoa_protocol.__file__).parent
    for source in folder.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                assert node.module.split(".")[0] in {"__future__", "typing", "enum", "msgspec", "stoa_protocol"}
            elif isinstance(node, ast.Import):
                # math: audio_level; unicodedata: the rule of text fields (combining marks)
                assert {a.name for a in node.names} <= {"enum", "math", "msgspec", "unicodedata"}, source.name
