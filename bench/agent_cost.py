"""What the guest agent's facts cost (issue 18, item 2), on the lab's Linux guest and whatever else runs:
one domain's read (guestInfo + interfaceAddresses + getTime), the time from the first tick to the first
facts, and a tick's time with the agent watch on and off (it must not change: the tick only attaches).

Run as root, under both locks:
    flock /tmp/xentui-lab.lock flock /tmp/xentui-bench.lock .venv/bin/python bench/agent_cost.py
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time

import libvirt

from xentui import lab
from xentui.lab_linux import agent as ga
from xentui.lab_linux import start_linux_guest
from xentui.model.guest_agent import AgentStatus
from xentui.sources.libvirt import LibvirtSource

TICKS = 15


def ms(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms"


def main() -> None:
    conn = lab.connect(lab.URI)
    name = f"xtest-{os.getpid()}-linux-bench"
    dom = start_linux_guest(conn, name)
    on, off = LibvirtSource(lab.URI), LibvirtSource(lab.URI, guest_agent=False)
    try:
        print(f"boot to the agent's first answer: {ga.wait_booted(dom, 120):.1f} s")
        began = time.monotonic()
        while (d := next(d for d in on.collect().domains if d.name == name)).agent is None \
                or d.agent.status is not AgentStatus.OK:
            assert time.monotonic() - began < 60, "no facts within 60 s"
            time.sleep(0.2)
        print(f"first tick to first facts (read-only source: its own read-write connection opened first): "
              f"{time.monotonic() - began:.2f} s")
        assert on.agent is not None
        reads = []
        for _ in range(10):
            t = time.monotonic()
            assert on.agent.read_one(conn.lookupByName(name), None).status is AgentStatus.OK
            reads.append(time.monotonic() - t)
        print(f"one domain's read (3 agent calls, TCG guest): {ms(reads)}")
        with_agent, without = [], []
        for _ in range(TICKS):
            for source, into in ((on, with_agent), (off, without)):
                t = time.monotonic()
                source.collect()
                into.append(time.monotonic() - t)
        domains = len(on.collect().domains)
        print(f"a tick of {domains} domains, agent watch on: {ms(with_agent)}; off: {ms(without)}")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        on.close()
        off.close()
        with contextlib.suppress(libvirt.libvirtError):
            dom.destroy()


if __name__ == "__main__":
    main()
