"""Recording encode/decode cost per 1000-domain tick: the current tables vs the module before the refactor.

``PYTHONPATH=. .venv/bin/python bench/recording_codec.py [--old FILE]``; ``--old`` is a copy of the
pre-refactor ``xentui/recformat.py`` (``git show cfd34b5:xentui/recformat.py > FILE``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

from xentui.recording import delta, format
from xentui.sources.synthetic import SyntheticSource


def best_ms(fn: Callable[[], Any], rounds: int = 15) -> float:
    """The best of ``rounds`` runs, in ms (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure(mod: Any, count: int) -> tuple[float, float, float]:
    source = SyntheticSource(count=count, cache=True)
    first, raw = source.collect(), source.collect()
    host = mod.encode_host(raw.host)
    line = mod.encode_tick(first, host, previous := {})
    state: dict[str, Any] = {}
    mod.resolve_tick(json.loads(line), state)
    whole = mod.resolve_tick(json.loads(mod.encode_tick(raw, None, dict(previous))), state)
    fields = best_ms(lambda: [mod.encode_domain(d) for d in raw.domains])
    encode = best_ms(lambda: mod.encode_tick(raw, None, dict(previous)))
    decode = best_ms(lambda: mod.decode_tick(whole))
    return fields, encode, decode


def load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("old_recformat", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--old", help="the pre-refactor xentui/recformat.py")
    parser.add_argument("--domains", type=int, default=1000)
    args = parser.parse_args()
    current = SimpleNamespace(encode_host=format.encode_host, encode_domain=format.encode_domain,
                              encode_tick=delta.encode_tick, resolve_tick=delta.resolve_tick,
                              decode_tick=delta.decode_tick)
    rows: list[tuple[str, Any]] = [("current", current)]
    if args.old:
        rows.append(("before the refactor", load(args.old)))
    for name, mod in rows:
        fields, encode, decode = measure(mod, args.domains)
        print(f"{name}: per {args.domains}-domain tick, ms: encode the fields {fields:.1f}, "
              f"the whole line (with deltas and JSON) {encode:.1f}; decode {decode:.1f}")


if __name__ == "__main__":
    main()
