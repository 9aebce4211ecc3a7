"""Reading the settings tree from its three sources, each over the one before: the TOML file, the environment
(`STOA_<SECTION>_<NAME>`), the command line. Every error names the setting where it was given (the flag, the
variable, or the file and the setting's path) and what it must be.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config._setting import Setting
from gateway.config._tree import Settings

ENV_PREFIX = "STOA_"
_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")


@dataclass(frozen=True)
class Item:
    """One setting: where it is in the tree and what it takes."""

    section: str
    name: str
    kind: type  # int, float, str, bool, Path, or tuple (of str)
    optional: bool  # None is a value (unset)
    default: Any
    spec: Setting

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def env(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}_{self.name.upper()}"

    @property
    def dest(self) -> str:
        """The argparse destination of its flag."""
        return f"{self.section}__{self.name}"


class SettingsError(Exception):
    """Settings that cannot be used; `lines` says each error on a line of its own."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def items() -> Iterator[Item]:
    """Every setting of the tree, in order."""
    defaults = Settings()
    for section in dataclasses.fields(Settings):
        values = getattr(defaults, section.name)
        hints = typing.get_type_hints(type(values))
        for f in dataclasses.fields(values):
            kind, optional = _kind(hints[f.name])
            yield Item(section.name, f.name, kind, optional, getattr(values, f.name), f.metadata["stoa"])


def _kind(hint: Any) -> tuple[type, bool]:
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return _kind(inner)[0], True
    if typing.get_origin(hint) is tuple:
        return tuple, False
    return hint, False


def load(
    file: Path | None = None, env: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None
) -> Settings:
    """The settings from the defaults, then `file`, then `env` (`os.environ` when None), then `flags` (argparse
    destinations, `Item.dest`, to raw values: a string, or a list for a repeatable flag). Raises
    `SettingsError` with every error found."""
    errors: list[str] = []
    values: dict[str, dict[str, Any]] = {}
    if file is not None:
        values = _read_file(file, errors)
    env = os.environ if env is None else env
    for item in items():
        section = values.setdefault(item.section, {})
        raw = env.get(item.env)
        if raw is not None:
            section[item.name] = _from_text(item, raw, item.env, errors)
        given = (flags or {}).get(item.dest)
        if given is not None and item.spec.flag is not None:
            where = f"{item.spec.flag} ({item.path})"
            if item.kind is tuple:
                section[item.name] = tuple(_from_text(item, v, where, errors) for v in given)
                section[item.name] = tuple(v for vs in section[item.name] for v in vs)
            else:
                section[item.name] = _from_text(item, given, where, errors)
    if errors:
        raise SettingsError(errors)
    return _build(values)


def check_file(file: Path) -> list[str]:
    """Every error of `file` alone (no environment, no flags), one line each; empty when it is good."""
    try:
        load(file, env={})
    except SettingsError as e:
        return e.lines
    return []


def _read_file(file: Path, errors: list[str]) -> dict[str, dict[str, Any]]:
    try:
        with open(file, "rb") as f:
            doc = tomllib.load(f)
    except OSError as e:
        errors.append(f"{file}: cannot read: {e.strerror or e}")
        return {}
    except tomllib.TOMLDecodeError as e:
        errors.append(f"{file}: not valid TOML: {e}")
        return {}
    known: dict[str, dict[str, Item]] = {}
    for item in items():
        known.setdefault(item.section, {})[item.name] = item
    values: dict[str, dict[str, Any]] = {}
    for section, table in doc.items():
        if section not in known:
            errors.append(f"{file}: {section}: no such section (sections: {', '.join(known)})")
            continue
        if not isinstance(table, dict):
            errors.append(f"{file}: {section}: must be a table ([{section}])")
            continue
        for name, value in table.items():
            found = known[section].get(name)
            if found is None:
                errors.append(f"{file}: {section}.{name}: no such setting")
                continue
            values.setdefault(section, {})[name] = _from_toml(found, value, f"{file}: {found.path}", errors)
    return values


def _from_toml(item: Item, value: Any, where: str, errors: list[str]) -> Any:
    spec = item.spec
    if item.optional and spec.off is not None and value == spec.off:
        return None
    expected = {int: "an integer", float: "a number", str: "a string", bool: "true or false", Path: "a string",
                tuple: "a list of strings"}[item.kind]  # fmt: skip
    if item.kind is tuple:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif item.kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif item.kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif item.kind is Path:
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, item.kind)
    if not ok:
        if spec.off is not None:
            expected += f' or "{spec.off}"'
        errors.append(f"{where}: must be {expected}, not {value!r}")
        return item.default
    if item.kind is tuple:
        return tuple(_checked(item, v, where, errors) for v in value)
    return _checked(item, item.kind(value), where, errors)


def _from_text(item: Item, raw: str, where: str, errors: list[str]) -> Any:
    """A value given as text (an environment variable, a flag). A list from the environment is comma-separated;
    a repeatable flag gives one element at a time (returned as a tuple of one)."""
    spec = item.spec
    if item.optional and spec.off is not None and raw == spec.off:
        return None
    try:
        if item.kind is tuple:
            return tuple(_checked(item, v.strip(), where, errors) for v in raw.split(",") if v.strip())
        if item.kind is bool:
            if raw.lower() not in _TRUE + _FALSE:
                errors.append(f"{where}: must be on or off, not {raw!r}")
                return item.default
            return raw.lower() in _TRUE
        value = item.kind(raw)
    except ValueError:
        expected = {int: "an integer", float: "a number"}.get(item.kind, "valid")
        if spec.off is not None:
            expected += f" or {spec.off}"
        errors.append(f"{where}: must be {expected}, not {raw!r}")
        return item.default
    return _checked(item, value, where, errors)


def _checked(item: Item, value: Any, where: str, errors: list[str]) -> Any:
    """`value` (of the right type) if its range, choices and check allow it; otherwise the error is noted."""
    spec = item.spec
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.choices and all(c.isupper() for c in spec.choices):
        value = value.upper()  # log levels: any case
    if spec.low is not None and spec.high is not None and not spec.low <= value <= spec.high:
        shown = value if isinstance(value, int) else f"{value:g}"
        errors.append(f"{where}: must be {_number(spec.low)} to {_number(spec.high)}{unit}, not {shown}")
    elif spec.choices and value not in spec.choices:
        errors.append(f"{where}: must be one of {', '.join(spec.choices)}, not {value!r}")
    elif spec.check is not None and (complaint := spec.check(value)) is not None:
        errors.append(f"{where}: {complaint}, not {value!r}")
    else:
        return value
    return item.default


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _build(values: Mapping[str, Mapping[str, Any]]) -> Settings:
    defaults = Settings()
    sections = {}
    for section in dataclasses.fields(Settings):
        sections[section.name] = dataclasses.replace(getattr(defaults, section.name), **values.get(section.name, {}))
    return Settings(**sections)
