"""scripts/fleet-lab up|down|status: the multi-host lab from the command line (as root)."""

from __future__ import annotations

import argparse
import sys
import time

from . import LabError, down, health, up


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fleet-lab", description=((__package__ and sys.modules[__package__].__doc__)
                                                                or "").split("\n\n")[0])
    p.add_argument("action", choices=("up", "down", "status"),
                   help="up: start it (a no-op when healthy); down: end all of it; status: what runs")
    args = p.parse_args(argv)
    try:
        if args.action == "up":
            lab = up()
            for h in lab.hosts:
                print(f"  {h.name}  {h.uri:30} {' '.join(h.guests)}")
            print(f"  ssh   {lab.ssh_uri}\n  prometheus {lab.prometheus_url}")
        elif args.action == "down":
            began = time.monotonic()
            down()
            print(f"  in {time.monotonic() - began:.1f} s")
        else:
            parts = health()
            for part, state in parts.items():
                print(f"  {part:12} {state}")
            return 0 if all(v == "ok" for v in parts.values()) else 3
    except LabError as err:
        print(f"fleet-lab {args.action}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
