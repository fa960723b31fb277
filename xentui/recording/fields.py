"""The building blocks of the recording format (xentui/recording/format.py): checks of one JSON value, codecs,
``Field`` and ``Table`` (a record type, its encoder and checked builder generated once from its fields).

Every check raises :class:`FormatError` naming what it checked; nothing here trusts the file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any

from xentui import limits
from xentui.text import brief

MAX_CPUS = limits.MAX_CPUS  # pCPU and vCPU numbers: a damaged file must not make a view draw 2**70 columns


class FormatError(ValueError):
    """What is wrong with one line of a recording (the reader adds file and line)."""


# --- checks of one JSON value (each raises FormatError naming ``what``) -------------------------


def _int(v: Any, what: str, optional: bool = True) -> int | None:
    if v is None and optional:
        return None
    if type(v) is not int or v < 0:  # counters, sizes and ids: never negative from a source
        raise FormatError(f"{what} is not a whole number of 0 or more")
    if v >= limits.MAX_COUNTER:
        raise FormatError(f"{what} is 2**64 or more: a recording's counters are below 2**64")
    return v


def _cpu(v: Any, what: str) -> int:
    n: int = _int(v, what, optional=False)  # type: ignore[assignment]  # not optional: never None
    if n >= MAX_CPUS:
        raise FormatError(f"{what} {n} is beyond {MAX_CPUS - 1}")
    return n


def _float(v: Any, what: str, optional: bool = False, most: float = limits.MAX_COUNTER) -> float | None:
    """A finite number in [0, most): times, rates, the delay."""
    if v is None and optional:
        return None
    if type(v) not in (int, float) or not -limits.MAX_COUNTER < v < limits.MAX_COUNTER or not math.isfinite(v):
        raise FormatError(f"{what} is not a finite number")
    if not 0 <= v < most:
        raise FormatError(f"{what} {v:g} is not from 0 to {most:g}")
    return float(v)


def _time(v: Any, what: str, optional: bool = False) -> float | None:
    return _float(v, what, optional, most=limits.MAX_SECONDS)


def _seconds(v: Any, what: str) -> float:
    """A time that must be there (never None)."""
    seconds = _float(v, what, most=limits.MAX_SECONDS)
    assert seconds is not None  # not optional: _float raised instead
    return seconds


def _str(v: Any, what: str, optional: bool = False, most: int = limits.MAX_NAME) -> str | None:
    if v is None and optional:
        return None
    if type(v) is not str:
        raise FormatError(f"{what} is not a string")
    if len(v) > most:
        raise FormatError(f"{what} has {len(v)} characters: a recording allows at most {most}")
    return v


def _list(v: Any, what: str, length: int | None = None, most: int | None = None) -> list[Any]:
    if type(v) is not list:
        raise FormatError(f"{what} is not a list")
    if length is not None and len(v) != length:
        raise FormatError(f"{what} has {len(v)} fields, not {length}")
    if most is not None and len(v) > most:
        raise FormatError(f"{what}: {len(v)} entries; a recording allows at most {most}")
    return v


# --- codecs: how one field is written and read back ---------------------------------------------


def _same(v: Any) -> Any:
    return v


@dataclass(frozen=True)
class Codec:
    """``decode(json value, what) -> value`` (checked); ``encode(value) -> json value``."""

    decode: Callable[[Any, str], Any]
    encode: Callable[[Any], Any] = _same


def _required_int(v: Any, what: str) -> int:
    n: int = _int(v, what, optional=False)  # type: ignore[assignment]  # not optional: never None
    return n


def Int(optional: bool = True) -> Codec:
    return Codec(_int if optional else _required_int)


def Str(optional: bool = False, most: int = limits.MAX_NAME, none: str | None = None) -> Codec:
    """``none``: what a null (or a field older files lack) decodes to."""
    if not optional and most == limits.MAX_NAME:
        return Codec(_str)  # the common case: one call per value
    if optional and none is not None:
        return Codec(lambda v, what: _str(v, what, True, most) or none)
    return Codec(lambda v, what: _str(v, what, optional, most))


def _bool(v: Any, what: str) -> bool:
    if type(v) is not bool:
        raise FormatError(f"{what} is not true/false")
    return v


def _counter_bits(v: Any, what: str) -> int:
    bits: int = _int(v, what, False)  # type: ignore[assignment]  # not optional: never None
    if not 1 <= bits <= 64:
        raise FormatError(f"counter bits {bits} is not 1 to 64")
    return bits


def _cpuset(v: Any, what: str) -> frozenset[int] | None:
    if v is None:
        return None
    return frozenset(_cpu(c, what) for c in _list(v, what, most=MAX_CPUS))


def _signed(v: Any, what: str) -> int | None:
    """A difference of two counters (a domain's overhead: cpu.time minus its vCPUs' times, which a tick-sized
    measurement step can make a little negative): whole, within +-2**64, or None."""
    if v is None:
        return None
    if type(v) is not int or not -limits.MAX_COUNTER < v < limits.MAX_COUNTER:
        raise FormatError(f"{what} is not a whole number within +-2**64")
    return v


INT, REQUIRED_INT, STR, BOOL, CPU = Int(), Int(False), Str(), Codec(_bool), Codec(_cpu)
OPTIONAL_CPU = Codec(lambda v, what: None if v is None else _cpu(v, what))
SIGNED_OR_NONE = Codec(_signed)
TIME_OR_NONE = Codec(lambda v, what: None if v is None else _time(v, what))
RATE_OR_NONE = Codec(lambda v, what: None if v is None else _float(v, what))
CPUSET = Codec(_cpuset, lambda v: None if v is None else sorted(v))


def _one_of(words: tuple[str, ...], optional: bool = True) -> Codec:
    """A fixed word of the model's (a guest type, a device model, a job's operation), or None where
    ``optional``; anything else is refused."""
    def decode(v: Any, what: str) -> str | None:
        if (v is None and optional) or v in words:
            return v  # type: ignore[no-any-return]
        raise FormatError(f"{what} {brief(v)} is not one of {', '.join(words)}")
    return Codec(decode)


@dataclass(frozen=True)
class Field:
    """One position of a record: the model's attribute, its codec, the label errors name, the revision."""

    name: str
    codec: Codec
    what: str
    since: int = 1


@dataclass(frozen=True)
class Table:
    """A record type: its fields in order, and the model class built from them.

    ``encode`` and ``build`` are generated once from the fields (a tick runs them ~10 000 times at 1000
    domains): attribute reads with only the non-identity codecs applied, and one call of ``cls`` (positional
    while the table follows the model's order, then by keyword).
    ``extra``: keyword arguments of ``cls`` that the record does not hold, passed to ``build`` after the array.
    """

    kind: str
    cls: type
    fields: tuple[Field, ...]
    extra: tuple[str, ...] = ()
    encode: Callable[[Any], list[Any]] = field(init=False, repr=False, compare=False)
    build: Callable[..., Any] = field(init=False, repr=False, compare=False)  # (checked-length array, *extra)

    def __post_init__(self) -> None:
        namespace: dict[str, Any] = {"_cls": self.cls}
        reads, args = [], []
        for i, f in enumerate(self.fields):
            assert f.name.isidentifier()  # our tables' names, never a file's
            if f.codec.encode is _same:
                reads.append(f"o.{f.name}")
            else:
                namespace[f"_enc{i}"] = f.codec.encode
                reads.append(f"_enc{i}(o.{f.name})")
            namespace[f"_dec{i}"], namespace[f"_what{i}"] = f.codec.decode, f.what
            args.append(f"_dec{i}(v[{i}], _what{i})")
        args += self.extra
        names, model = [*self.names, *self.extra], [f.name for f in dataclass_fields(self.cls)]
        same = 0  # positional while the table follows the model's order, then by keyword
        while same < len(names) and same < len(model) and names[same] == model[same]:
            same += 1
        args[same:] = [f"{name}={arg}" for name, arg in zip(names[same:], args[same:], strict=True)]
        exec(f"def encode(o):\n    return [{', '.join(reads)}]\n"
             f"def build(v{''.join(', ' + name for name in self.extra)}):\n    return _cls({', '.join(args)})\n",
             namespace)
        object.__setattr__(self, "encode", namespace["encode"])
        object.__setattr__(self, "build", namespace["build"])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def first_length(self) -> int:
        """The length of the arrays of the first files: the fields of revision 1."""
        return sum(1 for f in self.fields if f.since == 1)

    def decode(self, v: Any, what: str) -> Any:
        """A nested record: its array has exactly as many fields as the table (or, where fields were appended
        later, as in an earlier file: see ``whole``)."""
        if self.first_length == len(self.fields):
            return self.build(_list(v, what, len(self.fields)))
        return self.build(self.whole(v, what))

    def whole(self, v: Any, what: str) -> list[Any]:
        """A host or domain array: as long as now, or as in an earlier file (later fields then at None)."""
        values = _list(v, what)
        if not self.first_length <= len(values) <= len(self.fields):
            raise FormatError(f"{what} has {len(values)} fields, not {len(self.fields)}")
        return values + [None] * (len(self.fields) - len(values))


def rows(table: Table, what: str, most: int, item: str | None = None, none_is_empty: bool = False) -> Codec:
    """A list of records of ``table`` (at most ``most``); each entry checked as ``item``."""
    build, encode, count, item = table.build, table.encode, len(table.fields), item or table.kind

    def decode(v: Any, _what: str) -> tuple[Any, ...]:
        entries = _list([] if v is None and none_is_empty else v, what, most=most)
        return tuple([build(x) if type(x) is list and len(x) == count else table.decode(x, item)
                      for x in entries])

    return Codec(decode, lambda v: [encode(x) for x in v])


def record_or_none(table: Table, what: str) -> Codec:
    return Codec(lambda v, _what: None if v is None else table.decode(v, what),
                 lambda v: None if v is None else table.encode(v))


def _counters(names: Sequence[str], what: str, codec: Codec = INT) -> tuple[Field, ...]:
    return tuple(Field(n, codec, what) for n in names)
