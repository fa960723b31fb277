"""What each Xen domain is, read once per incarnation (its domid and UUID) in a thread of its own, never in the
tick: its type and device model from libxl's xenstore entries, its device model's dom0 processes, its PCI
devices (``xl pci-list``).  The tick then only reads the device models' CPU from /proc (OVH(%)).

libxl writes, when it creates a domain: ``/libxl/<domid>/type`` (pv, pvh, hvm), ``/libxl/<domid>/dm-version``
(qemu_xen, qemu_xen_traditional), ``/local/domain/<domid>/image/device-model-pid`` (its QEMU in dom0) or
``.../device-model-domid`` (its stub domain), and ``<vm path>/start_time``.  pciback's
``/local/domain/0/backend/pci/<domid>/0/num_devs`` (what ``xl pci-list`` reads) says whether to ask xl.  A
domain libxl did not make is asked of ``xl list -l <domid>`` (Domain-0 of its kernel's
``/sys/hypervisor/guest_type`` first).  A process counts for a domain only if it started after the domain did, so
a QEMU left over from an earlier domain of the same domid is never charged to the new one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from xentui.sources import deadlines
from xentui.sources.background import Refresher
from xentui.sources.base import SourceError
from xentui.sources.guest import SYSFS_PCI, TYPES, GuestFacts, hostdev_list, xen_device_model
from xentui.sources.xen import dm_procs
from xentui.sources.xen.dm_procs import Process
from xentui.sources.xen.libxenstat import Store
from xentui.sources.xen.xl import Xl, parse_pci_list

Key = tuple[int, str]  # (domid, uuid): one incarnation
FACTS_DEADLINE_S = 15.0  # one domain's xenstore reads, /proc look-ups and xl calls
RETRY_S = 5.0  # a domain whose device model has not started yet is looked at again...
TRIES = 12  # ...this many times (a minute), then taken as it is
DOM0_TYPE = Path("/sys/hypervisor/guest_type")  # "PV", "PVH" (Linux 4.13 and later)
START_SLACK_S = 2.0  # /proc/stat's boot time is whole seconds; libxl's start_time is centiseconds


@dataclass(frozen=True)
class XenGuest:
    """One incarnation's facts, and where its overhead comes from."""

    facts: GuestFacts
    processes: tuple[Process, ...] = ()  # its device models in dom0
    stubdom: int | None = None  # the domid of its stub domain
    final: bool = True  # False: its device model may not have started yet (looked at again)


class XenGuests:
    """The facts of every domain seen, read off the tick; :meth:`overhead_ns` per tick from /proc."""

    def __init__(self, store: Store, run: Xl, proc: Path = dm_procs.PROC, sysfs: Path | None = SYSFS_PCI,
                 boot_time: float | None = None, dom0_type: Path = DOM0_TYPE) -> None:
        self._store, self._xl, self._proc, self._sysfs, self._boot = store, run, proc, sysfs, boot_time
        self._dom0_type = dom0_type
        self._lock = threading.Lock()
        self._known: dict[Key, XenGuest] = {}
        self._tries: dict[Key, int] = {}
        self._wanted: tuple[Key, ...] = ()
        self._refresher = Refresher(self.refresh, lambda: RETRY_S, "xentui-xen-guests")

    def watch(self, keys: list[Key]) -> None:
        """The domains of this tick: forget the gone, look at the new (in the background)."""
        with self._lock:
            self._wanted = tuple(keys)
            live = set(keys)
            for gone in [k for k in self._known if k not in live]:
                del self._known[gone]
                self._tries.pop(gone, None)
            new = any(k not in self._known for k in keys)
        if new:
            if self._refresher.started:
                self._refresher.wake()
            else:
                self._refresher.start()

    def get(self, key: Key) -> XenGuest | None:
        return self._known.get(key)

    def refresh(self) -> None:
        """Read the facts of each domain not yet known (or not final), one domain under one deadline."""
        with self._lock:
            todo = [k for k in self._wanted if k not in self._known or not self._known[k].final]
        if not todo:
            return
        try:
            models = deadlines.call(lambda: dm_procs.device_models(self._proc), FACTS_DEADLINE_S, "scan /proc")
        except deadlines.NoAnswer:
            return
        for key in todo:
            try:
                guest = deadlines.call(lambda k=key: self.read(k, models), FACTS_DEADLINE_S,  # type: ignore[misc]
                                       f"facts of Xen domain {key[0]}")
            except deadlines.NoAnswer:
                continue
            with self._lock:
                tries = self._tries[key] = self._tries.get(key, 0) + 1
                if key in self._wanted:
                    self._known[key] = guest if guest.final or tries < TRIES else replace(guest, final=True)
                    if self._known[key].final:
                        self._tries.pop(key, None)

    def read(self, key: Key, models: Mapping[int, list[Process]]) -> XenGuest:
        """One domain's facts (blocking: xenstore, /proc, xl)."""
        domid = key[0]
        read = self._store.read
        kind = _word(read(f"/libxl/{domid}/type"))
        version = _word(read(f"/libxl/{domid}/dm-version"))
        stubdom = _domid(read(f"/local/domain/{domid}/image/device-model-domid"))
        if kind is None and domid == 0:  # dom0's kernel says what it runs as, without an xl spawn
            kind = _dom0_type(self._dom0_type)
        if kind is None:  # not made by libxl's create (Domain-0, another toolstack): xl's own view
            kind, version, stub = self._xl_list(domid)
            stubdom = stubdom if stubdom is not None else (-1 if stub else None)
        processes = self._processes(domid, models)
        if stubdom is not None and stubdom != 0:
            model: str | None = "stubdom"
        elif processes:
            model = xen_device_model(version) or "qemu-xen"
        elif kind == "hvm":  # its QEMU is not running (yet): unknown
            model = None
        else:
            model = "none" if kind in ("pv", "pvh") else None
        facts = GuestFacts(kind if kind in TYPES else None, model, self._hostdevs(domid))
        final = kind is not None and not (kind == "hvm" and model is None)  # else libxl may not be done yet
        return XenGuest(facts, processes, stubdom if stubdom is not None and stubdom > 0 else None, final)

    def overhead_ns(self, key: Key, cpu_by_domid: Mapping[int, int | None]) -> int | None:
        """The CPU its device model used (cumulative ns): its dom0 processes from /proc, or its stub domain's
        CPU this tick; None when it has neither, or when one is gone."""
        guest = self._known.get(key)
        if guest is None:
            return None
        if guest.stubdom is not None:
            return cpu_by_domid.get(guest.stubdom)
        return dm_procs.cpu_ns(self._proc, guest.processes) if guest.processes else None

    def close(self) -> None:
        self._refresher.close()

    # --- reading ---------------------------------------------------------------------------

    def _processes(self, domid: int, models: Mapping[int, list[Process]]) -> tuple[Process, ...]:
        """Its device models: libxl's recorded pid and every ``-xen-domid N`` QEMU, each started after the domain
        (domid 0's are dom0's own backends, in its vCPUs already)."""
        if domid == 0:
            return ()
        found = {p.pid: p for p in models.get(domid, [])}
        pid = _domid(self._store.read(f"/local/domain/{domid}/image/device-model-pid"))
        if pid and pid not in found and (mapped := dm_procs.device_model(self._proc, pid)) and mapped[0] == domid:
            found[pid] = mapped[1]
        started = self._domain_start(domid)
        if started is None or self._boot is None:
            return tuple(found.values())
        after = (started - START_SLACK_S - self._boot) * dm_procs.CLK_TCK
        return tuple(p for p in found.values() if p.start_ticks >= after)

    def _domain_start(self, domid: int) -> float | None:
        """libxl's ``<vm path>/start_time`` (epoch seconds), None when it is not there."""
        vm = self._store.read(f"/local/domain/{domid}/vm")
        if not vm or not vm.startswith("/vm/"):
            return None
        try:
            return float((self._store.read(f"{vm}/start_time") or "").strip()[:32])
        except ValueError:
            return None

    def _xl_list(self, domid: int) -> tuple[str | None, str | None, bool]:
        """(type, device model version, stub domain asked) from ``xl list -l <domid>``."""
        try:
            config = json.loads(self._xl("list", "-l", str(domid), timeout=FACTS_DEADLINE_S))[0]["config"]
            c_info, b_info = config.get("c_info", {}), config.get("b_info", {})
            stub = str(b_info.get("device_model_stubdomain_override", "")).lower() == "true"
            return _word(c_info.get("type")), _word(b_info.get("device_model_version")), stub
        except (SourceError, ValueError, LookupError, TypeError, AttributeError):
            return None, None, False

    def _hostdevs(self, domid: int) -> tuple[str, ...]:
        """``xl pci-list``'s devices; xl is not run when pciback's xenstore entry, which it reads, says none."""
        if domid == 0 or not _domid(self._store.read(f"/local/domain/0/backend/pci/{domid}/0/num_devs")):
            return ()
        try:
            return hostdev_list(((a, False) for a in parse_pci_list(self._xl("pci-list", str(domid), timeout=10))),
                                self._sysfs)
        except SourceError:
            return ()


def _dom0_type(path: Path) -> str | None:
    try:
        kind = path.read_text()[:16].strip().lower()
    except (OSError, UnicodeDecodeError):
        return None
    return kind if kind in TYPES else None


def _word(value: object) -> str | None:
    """A short token as libxl writes it (``hvm``, ``qemu_xen``); anything else is unknown."""
    if type(value) is not str:
        return None
    value = value.strip()
    return value if 0 < len(value) <= 32 and value.replace("_", "").isalnum() and value.isascii() else None


def _domid(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) <= 10 else None

