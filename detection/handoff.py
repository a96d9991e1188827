"""Typed hand-offs between stages: a dataclass written as JSON with its format version, and read
back with every field checked against the dataclass's type hints.

A stage never reads another stage's JSON by key: it loads the producer's dataclass, and a missing,
old or malformed file fails here with a message that names the file, what is wrong and which asset
to materialise again.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import TYPE_CHECKING, Any, TypeVar

from detection import storage

if TYPE_CHECKING:
    from detection.storage import Location

T = TypeVar("T")


class HandoffError(ValueError):
    """A stage's output is missing, from an older format, or malformed; the message says which
    asset to materialise again."""


def to_json(value: object, format_version: int, exclude: tuple[str, ...] = ()) -> str:
    """``value`` (a dataclass) as indented JSON with its ``format_version``, without the fields
    in ``exclude`` (kept in files of their own); NaN is written as null, so the file stays
    standard JSON, and read back as NaN."""
    fields = dataclasses.asdict(value)  # type: ignore[call-overload]
    document: dict[str, object] = {"format_version": format_version}
    document.update({k: _plain(v) for k, v in fields.items() if k not in exclude})
    return json.dumps(document, indent=2, sort_keys=True, allow_nan=False)


def _plain(value: object) -> object:
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def save(
    value: object, path: Location, format_version: int, exclude: tuple[str, ...] = ()
) -> Location:
    storage.make_dir(path.parent)
    path.write_text(to_json(value, format_version, exclude))
    return path


def load(
    cls: type[T],
    path: Location,
    format_version: int,
    producer: str,
    extra: dict[str, object] | None = None,
) -> T:
    """Read ``path`` as ``cls``; ``producer`` is the asset that writes it (for the message);
    ``extra`` supplies the fields kept in files of their own."""
    if not path.is_file():
        raise HandoffError(f"no {cls.__name__.lower()} at {path}; materialise {producer} first")
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HandoffError(f"{path} is unreadable ({exc}); materialise {producer} again") from exc
    if not isinstance(document, dict):
        raise HandoffError(f"{path} is not a JSON object; materialise {producer} again")
    found = document.pop("format_version", None)
    if found != format_version:
        raise HandoffError(
            f"{path} has format version {found}, this code reads {format_version} (it was written "
            f"by another release); materialise {producer} again"
        )
    try:
        return _build(cls, document, cls.__name__, extra or {})
    except (TypeError, ValueError) as exc:
        raise HandoffError(f"{path}: {exc}; materialise {producer} again") from exc


def _build(cls: type[T], data: object, where: str, extra: dict[str, object] | None = None) -> T:
    if not isinstance(data, dict):
        raise TypeError(f"{where} must be an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in (extra or {})}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise TypeError(f"{where} has unexpected fields {unknown}")
    values = {}
    for name, field in fields.items():
        if name not in data:
            has_default = (
                field.default is not dataclasses.MISSING
                or field.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise TypeError(f"{where} lacks the field {name!r}")
        values[name] = _convert(hints[name], data[name], f"{where}.{name}")
    return cls(**values, **(extra or {}))


def _convert(hint: Any, value: object, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _convert(option, value, where)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        raise TypeError("; ".join(errors))
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if not isinstance(value, dict):
            raise TypeError(f"{where} must be an object")
        return {
            _convert(key_type, k, where): _convert(value_type, v, f"{where}[{k!r}]")
            for k, v in value.items()
        }
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise TypeError(f"{where} must be a list")
        item = typing.get_args(hint)[0]
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if hint is float:
        if value is None:
            return float("nan")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where} must be an integer, got {value!r}")
        return value
    if hint in (str, bool):
        if not isinstance(value, hint):
            raise TypeError(f"{where} must be a {hint.__name__}, got {value!r}")
        return value
    if hint is Any or hint is object:
        return value
    raise TypeError(f"{where}: cannot read values of type {hint!r}")
