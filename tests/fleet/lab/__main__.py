"""scripts/fleet-lab up|down|status|cost: the multi-host lab from the command line (as root)."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from tests.procfs import proc_cpu_seconds
from xentui.cli import UsageParser

from . import LabError, down, health, hosts, procs, up
from .layout import HOSTS


def lab_pids() -> dict[int, str]:
    """pid -> what it is: a guest's name for its qemu, else the process name."""
    pids = {int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and (procs.comm(int(p.name)) or "").startswith("xtlab-")}
    pids |= {pid for h in HOSTS for pid in hosts.namespace_pids(h)}
    named = {}
    for pid in pids:
        try:
            guest = re.search(rb"guest=([^,\0]+)", Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
        named[pid] = f"guest {guest.group(1).decode()}" if guest else str(procs.comm(pid))
    return named


def cpu_seconds(pid: int) -> float:
    try:
        return proc_cpu_seconds(pid)
    except OSError:
        return 0.0


def cost(seconds: float) -> None:
    """CPU of each part of the running lab over ``seconds``, in % of one core."""
    named = lab_pids()
    before = {pid: cpu_seconds(pid) for pid in named}
    began = time.monotonic()
    time.sleep(seconds)  # the measuring window itself, not a wait for a condition
    wall = time.monotonic() - began
    by_part: dict[str, float] = {}
    for pid, what in named.items():
        by_part[what] = by_part.get(what, 0.0) + 100 * (cpu_seconds(pid) - before[pid]) / wall
    daemons = sum(v for k, v in by_part.items() if not k.startswith("guest "))
    for what, pct in sorted(by_part.items(), key=lambda kv: -kv[1]):
        print(f"  {what:24} {pct:6.1f} %")
    print(f"  {'all but the guests':24} {daemons:6.1f} % of one core over {wall:.0f} s")


def main(argv: list[str]) -> int:
    p = UsageParser(prog="fleet-lab", description="The real multi-host lab (tests/fleet/lab), as root.")
    p.add_argument("action", choices=("up", "down", "status", "cost"),
                   help="up: start it (a no-op when healthy); down: end all of it; status: what runs; "
                        "cost: the CPU each part of it takes")
    p.add_argument("--seconds", type=float, default=30.0, help="cost's window (default 30)")
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
        elif args.action == "cost":
            cost(args.seconds)
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
