"""Dataclass configs in and out of TOML, and the reference studies' numbers, written down once.

Every model, the training loop and the search keep their options in a ``@dataclass``. This
module turns any such dataclass into a plain dict / TOML document and back (nested dataclasses,
tuples and ``X | None`` fields included), and merges overrides into it with the keys checked,
so a typo in a config file is an error instead of a silently ignored option.

TOML is read with :mod:`tomllib`; it is written by :func:`dumps_toml`, a small writer for the
subset configs use (tables, strings, numbers, booleans, arrays, arrays of tables). ``None`` has
no TOML spelling: a ``None`` value is left out and reads back as the field's default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from autoenchorder.errors import ModelError

# the study's grid, best setting and random baseline live in autoenchorder.published; kept
# importable from here for the code that has always found them here
from autoenchorder.published import STUDY_BEST, STUDY_GRID, STUDY_RANDOM_BASELINE  # noqa: F401

T = TypeVar("T")


class ConfigError(ModelError):
    """A config file or override that does not fit its dataclass (unknown key, wrong type)."""


# ----------------------------------------------------------------------------- dataclasses


def config_to_dict(config: Any) -> dict[str, Any]:
    """Turn a dataclass config into plain JSON/TOML-able values.

    Parameters
    ----------
    config : dataclass instance

    Returns
    -------
    dict
        Field name -> value; nested dataclasses become dicts, tuples lists, paths strings.
    """
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"expected a dataclass instance, got {type(config).__name__}")
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        return value.item()
    return value


def config_from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build a dataclass config from a (possibly partial) dict, checking every key.

    Parameters
    ----------
    cls : dataclass type
    data : mapping
        Field name -> value; missing fields take their defaults, nested dataclass fields take
        dicts, list values become tuples where the field is a tuple.

    Returns
    -------
    cls instance

    Raises
    ------
    ConfigError
        A key that is not a field, or a value of the wrong type.
    """
    return _build(cls, data, where=cls.__name__)


def merge_config(config: T, overrides: Mapping[str, Any]) -> T:
    """Return a copy of ``config`` with ``overrides`` applied (nested dicts merge recursively).

    Parameters
    ----------
    config : dataclass instance
    overrides : mapping
        Field name -> new value (a dict for a nested dataclass field updates only its keys).

    Returns
    -------
    dataclass instance of the same type

    Raises
    ------
    ConfigError
        An override key that is not a field, or a value of the wrong type.
    """
    merged = _deep_update(config_to_dict(config), overrides)
    return _build(type(config), merged, where=type(config).__name__)


def _deep_update(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_update(out[key], value)
        else:
            out[key] = _plain(value)
    return out


def typed_values(
    cls: type, values: Mapping[str, Any], *, where: str | None = None
) -> dict[str, Any]:
    """Check config values against a dataclass's fields and convert them to the fields' types.

    The one converter every config goes through (model configs from ``--set``, TOML files,
    search spaces and the demo's studies alike): ``"2e-4"`` parsed as TOML is a float, a list
    becomes a tuple where the field is a tuple, an integer becomes a float where the field is a
    float; anything else of the wrong type is refused.

    Parameters
    ----------
    cls : dataclass type
        E.g. a model's ``config_class``.
    values : mapping
        Field name -> value; fields not given are left out of the result.
    where : str or None
        Prefix of error messages (default: the class name), e.g. the model's name.

    Returns
    -------
    dict
        Field name -> value of the field's type.

    Raises
    ------
    ConfigError
        A key that is not a field, or a value of the wrong type (one line naming both).
    """
    where = where or cls.__name__
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise ConfigError(
            f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
        )
    return {
        name: _coerce(hints.get(name, Any), value, where=f"{where}.{name}")
        for name, value in values.items()
    }


def _build(cls: type[T], data: Mapping[str, Any], *, where: str) -> T:
    return cls(**typed_values(cls, data, where=where))


def _coerce(hint: Any, value: Any, *, where: str) -> Any:  # noqa: PLR0911
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, where=where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return _build(hint, value, where=where)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            items = [_coerce(args[0], v, where=where) for v in value]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            items = [_coerce(a, v, where=where) for a, v in zip(args, value, strict=True)]
        else:
            items = [_coerce(args[0] if args else Any, v, where=where) for v in value]
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if hint is Path:
        return Path(value)
    return value


# ----------------------------------------------------------------------------- TOML


def load_config(cls: type[T], path: str | Path, *, section: str | None = None) -> T:
    """Read a dataclass config from a TOML file.

    Parameters
    ----------
    cls : dataclass type
    path : str or Path
    section : str or None
        Read only this top-level table (e.g. ``"model"``); ``None`` reads the whole document.

    Returns
    -------
    cls instance

    Raises
    ------
    ConfigError
        Unreadable file, bad TOML, missing section, unknown keys or wrong types.
    """
    data = read_toml(path)
    if section is not None:
        if section not in data:
            raise ConfigError(f"{path}: no [{section}] table")
        data = data[section]
    return config_from_dict(cls, data)


def save_config(config: Any, path: str | Path) -> None:
    """Write a dataclass config to a TOML file (``None`` fields are left out).

    Parameters
    ----------
    config : dataclass instance
    path : str or Path
    """
    write_toml(path, config_to_dict(config))


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file, turning I/O and syntax problems into :class:`ConfigError`."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def write_toml(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write a mapping as a TOML document (see :func:`dumps_toml`)."""
    Path(path).write_text(dumps_toml(data), encoding="utf-8")


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Render a mapping as TOML.

    Parameters
    ----------
    data : mapping
        Values may be str, int, float (incl. inf / nan), bool, lists of those (nested lists
        too), mappings (written as tables) and lists of mappings (arrays of tables). ``None``
        values are left out.

    Returns
    -------
    str
        A document :func:`tomllib.loads` reads back to ``data`` (minus the ``None`` values).
    """
    lines: list[str] = []
    _emit_table(lines, _plain(data), prefix=())
    return "\n".join(lines).strip("\n") + "\n"


def _emit_table(lines: list[str], table: Mapping[str, Any], *, prefix: tuple[str, ...]) -> None:
    subtables: list[tuple[str, Mapping[str, Any]]] = []
    arrays_of_tables: list[tuple[str, list[Mapping[str, Any]]]] = []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            subtables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            arrays_of_tables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, sub in subtables:
        path = (*prefix, key)
        lines.extend(["", f"[{'.'.join(_key(k) for k in path)}]"])
        _emit_table(lines, sub, prefix=path)
    for key, items in arrays_of_tables:
        path = (*prefix, key)
        for item in items:
            lines.extend(["", f"[[{'.'.join(_key(k) for k in path)}]]"])
            _emit_table(lines, item, prefix=path)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are a subset of TOML basic-string escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        if any(v is None for v in value):
            raise ConfigError("TOML arrays cannot hold None")
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{" + inner + "}"
    raise ConfigError(f"cannot write {type(value).__name__} value {value!r} as TOML")
