"""Many idle KVM guests for the scale benches: booted in parallel threads (each libvirt call under a deadline,
stopping with one line before the host runs short of memory), waited on until the host settles, destroyed at the
end, also after a failure, Ctrl-C or SIGTERM (bench/fastpath_scale.py).

Each is a lab guest (``lab.guest_xml``: 32 MiB, the read-only virtio disk, an e1000 tap, a balloon) whose boot
sector is ``cli; hlt``: halted with interrupts off, it never wakes, so its QEMU uses 0 % once SeaBIOS is done.
The lab's own ``idle`` (``sti; hlt``) wakes for every BIOS timer tick: about 0.9 % of a core each on this nested
KVM host, 2.7 cores at 300 guests, more than the host has.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import libvirt

from tests.procfs import proc_cpu_seconds
from xentui import lab
from xentui.sources import deadlines

BOOT_DEADLINE_S = 60.0  # one createXML (libvirtd starts QEMU and waits for its monitor)
DESTROY_DEADLINE_S = 30.0
BOOT_THREADS = 4  # libvirtd serves 5 requests of one client at once (max_client_requests)
SETTLE_WINDOW_S = 5.0
HALT_CODE = bytes.fromhex("faf4ebfd")  # cli; hlt; jmp short -3 (to hlt)


def halt_image() -> Path:
    """The ``cli; hlt`` boot disk, beside the lab's images (where libvirt may read it)."""
    image = bytearray(lab.DISK_BYTES)
    image[: len(HALT_CODE)] = HALT_CODE
    image[510:512] = b"\x55\xaa"
    path = lab.IMAGE_DIR / "bench-halt.img"
    if not path.exists() or path.read_bytes() != image:
        lab.IMAGE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(bytes(image))
        tmp.replace(path)
    return path


class Short(Exception):
    """The host would run short (memory), or libvirtd stopped answering: booting stops here, with one line."""


def mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise Short("no MemAvailable in /proc/meminfo")


def rss_kib(pid: int) -> int:
    """VmRSS of a process (0 once it has ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += proc_cpu_seconds(pid)
        except OSError:  # ended meanwhile
            continue
    return total


@dataclass
class Settled:
    settled: bool
    waited_s: float
    load1: float
    guests_cpu_pct: float  # all the guests' QEMU processes together, % of one core, over the last window


class Fleet:
    """Guests named ``prefix + number`` on the local libvirtd; ``destroy()`` ends every one of them."""

    def __init__(self, conn: libvirt.virConnect, reserve_gib: float, log: Callable[[str], None] = print) -> None:
        self.conn = conn
        self.prefix = f"xtb-sc-{os.getpid()}-"
        self.reserve_kib = int(reserve_gib * 1024 * 1024)
        self.started = 0
        self.log = log
        self.image = halt_image()
        self._stop = threading.Event()  # destroy(): the boot threads start no more guests
        self._booting: list[threading.Thread] = []
        self.virt_type = "kvm"

    def names(self) -> list[str]:
        return [f"{self.prefix}{i}" for i in range(self.started)]

    def pids(self) -> list[int]:
        pids = []
        for name in self.names():
            try:
                pids.append(lab.qemu_pid(name))
            except (OSError, ValueError, RuntimeError):  # not running (a boot that failed)
                continue
        return pids

    def rss_per_guest_kib(self) -> float:
        pids = self.pids()
        return sum(rss_kib(p) for p in pids) / len(pids) if pids else 0.0

    def check_memory(self, more: int) -> None:
        """Short when booting ``more`` guests (at the RSS each running one has now) would leave less than the
        reserve available."""
        per_guest = self.rss_per_guest_kib() or 64 * 1024.0  # none yet: assume 64 MiB until measured
        available = mem_available_kib()
        if available - more * per_guest < self.reserve_kib:
            raise Short(f"not booting {more} more guests: {available / 1048576:.1f} GiB available, each guest's "
                        f"QEMU holds {per_guest / 1024:.0f} MiB, and {self.reserve_kib / 1048576:.1f} GiB "
                        f"must stay free (--reserve-gib)")

    def boot_to(self, n: int) -> float:
        """Boot guests until ``n`` run; the seconds it took.  Short when memory or libvirtd runs out."""
        if n <= self.started:
            return 0.0
        self.check_memory(n - self.started)
        began = time.monotonic()
        if self.started == 0:  # the first one alone: KVM, else TCG (as lab.start_guest)
            try:
                self._boot_one(0)
            except libvirt.libvirtError as err:
                if "kvm" not in str(err).lower():
                    raise
                self.virt_type = "qemu"
                self._boot_one(0)
            self.started = 1
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(self.started, n):
            todo.put(i)
        failures: list[str] = []

        def worker() -> None:
            while not failures and not self._stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    if i % 25 == 0:
                        self.check_memory(n - i)
                    self._boot_one(i)
                except (Short, libvirt.libvirtError, deadlines.NoAnswer) as err:
                    failures.append(str(err).splitlines()[0])
                    return

        self._booting = [threading.Thread(target=worker, name=f"boot-{t}", daemon=True) for t in range(BOOT_THREADS)]
        for t in self._booting:
            t.start()
        for t in self._booting:
            t.join()
        self.started = n  # (those that failed are simply not there: destroy() goes by prefix)
        if failures:
            raise Short(f"booting stopped at {self._running()} guests: {failures[0]}")
        return time.monotonic() - began

    def _boot_one(self, i: int) -> None:
        name = f"{self.prefix}{i}"
        xml = lab.guest_xml(name, "idle", virt_type=self.virt_type, image=self.image)
        deadlines.call(lambda: self.conn.createXML(xml, 0), BOOT_DEADLINE_S, f"createXML {name}")

    def _running(self) -> int:
        doms = deadlines.call(lambda: self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE),
                              deadlines.QUICK_S, "list domains")
        return sum(d.name().startswith(self.prefix) for d in doms)

    def running_uuids(self) -> list[str]:
        """Our running guests' uuids, in boot order."""
        doms = deadlines.call(lambda: self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE),
                              deadlines.QUICK_S, "list domains")
        ours = {d.name(): d.UUIDString() for d in doms if d.name().startswith(self.prefix)}
        return [ours[name] for name in self.names() if name in ours]

    def settle(self, deadline_s: float, guest_pct: float, load_max: float) -> Settled:
        """Wait (up to ``deadline_s``) until our guests' QEMU CPU over a window is at most ``guest_pct`` % of one
        core, all of them together, and the 1-minute load average at most ``load_max``."""
        began = time.monotonic()
        pids = self.pids()
        while True:
            before, t0 = cpu_seconds(pids), time.monotonic()
            time.sleep(SETTLE_WINDOW_S)  # the measuring window, not a wait before an assertion
            pct = 100 * (cpu_seconds(pids) - before) / (time.monotonic() - t0)
            load1 = os.getloadavg()[0]
            waited = time.monotonic() - began
            if (pct <= guest_pct and load1 <= load_max) or waited >= deadline_s:
                return Settled(pct <= guest_pct and load1 <= load_max, waited, load1, pct)

    def destroy(self) -> int:
        """Destroy every running guest of ours (parallel, each call bounded); how many are left running.  Boot
        threads still at work (Ctrl-C during a boot) finish their createXML first, so none is left behind."""
        self._stop.set()
        for t in self._booting:
            t.join(BOOT_DEADLINE_S)
        try:
            doms = [d for d in deadlines.call(
                lambda: self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE), deadlines.QUICK_S,
                "list domains") if d.name().startswith(self.prefix)]
        except (libvirt.libvirtError, deadlines.NoAnswer) as err:
            self.log(f"cannot list the guests to destroy them: {err}; run: "
                     f"virsh list --name | grep ^{self.prefix} | xargs -n1 virsh destroy")
            return -1
        todo: queue.SimpleQueue[libvirt.virDomain] = queue.SimpleQueue()
        for dom in doms:
            todo.put(dom)

        def worker() -> None:
            while True:
                try:
                    dom = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    deadlines.call(dom.destroy, DESTROY_DEADLINE_S, f"destroy {dom.name()}")
                except (libvirt.libvirtError, deadlines.NoAnswer) as err:
                    self.log(f"destroy {dom.name()}: {str(err).splitlines()[0]}")

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(BOOT_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            return self._running()
        except (libvirt.libvirtError, deadlines.NoAnswer):
            return -1


def terminate_as_interrupt() -> None:
    """SIGTERM and SIGHUP end the bench as Ctrl-C does: through its finally clauses (the guests destroyed)."""
    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)
