"""What the bulk call leaves out, filled by per-domain calls (libxl has no bulk call at all; the test
driver's returns only ``state.*``).  Which groups are missing is learnt from what the driver returns,
never guessed from the URI; the calls write the bulk keys, so one parser reads both.
"""

from __future__ import annotations

import functools
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import libvirt

from xentui.sources import deadlines
from xentui.sources.base import SourceError
from xentui.sources.cache_qos.libvirt import Record
from xentui.sources.libvirt import connection
from xentui.sources.libvirt.bulk_stats import BLOCK_KEYS, NET_KEYS, VCPU_KEYS, Devices, active, parse_devices, stat_keys
from xentui.sources.libvirt.errors import VANISHED, error_line
from xentui.sources.placement import Key, PlacementCache, placement_from_vcpus

XML_PER_PASS = 64  # new domains' XML read per tick when the bulk call has the rest (a host of 1000 domains: 16 ticks)
# Per-domain calls used when a group is missing from the bulk answer.
PROBE_KEYS = {"cpu": "cpu.time", "balloon": "balloon.current", "vcpu": "vcpu.current",
              "net": "net.count", "block": "block.count"}
Listed = list[tuple[libvirt.virDomain, Record]]
Filled = list[tuple[libvirt.virDomain, Record, Key]]


def key_of(dom: libvirt.virDomain) -> Key:
    """(UUID, domid or None): held by the client, no round trip."""
    domid = dom.ID()
    return dom.UUIDString(), domid if domid >= 0 else None


class Fallback:
    """Per-domain calls for the groups the bulk call leaves out, in one pass under a deadline."""

    def __init__(self, uri: str, placement: PlacementCache, sysfs: Path | None = None) -> None:
        self.uri = uri
        self.sysfs = sysfs  # this host's PCI devices (SR-IOV VFs), when libvirt runs here
        self.placement = placement
        self.missing_groups: frozenset[str] = frozenset()
        self.learnt = False  # judged once, on the first tick with an active domain
        self.devices: dict[Key, Devices] = {}  # device names and guest facts from each domain's XML (once each)
        self._hung: tuple[Key | None, deadlines.Call[None]] | None = None  # a pass left hanging
        self._last_s: float | None = None

    def learn(self, records: Listed) -> None:
        """Which groups this driver leaves out, judged on the active domains."""
        running = [rec for _dom, rec in records if active(rec)]
        if not running:
            return
        self.missing_groups = frozenset(group for group, key in PROBE_KEYS.items()
                                        if not any(key in rec for rec in running))
        self.learnt = True

    def reset(self) -> None:
        """A new connection: nothing cached is true of it."""
        self.devices.clear()
        self._hung = None

    def fill_all(self, records: Listed) -> tuple[Filled, list[str], dict[Key, str]]:
        """Each domain's record completed by per-domain calls, in ONE pass under a deadline (a thread per
        domain would cost more than the calls).  A domain whose calls hang ends the pass: the domains it
        did not reach keep their bulk figures, marked stale, and later passes skip the hung domain (its
        row stale) until its call returns.  Returns (filled, errors, stale rows)."""
        missing = self.missing_groups
        hung_key = self._hung[0] if self._hung and not self._hung[1].done() else None
        lock = threading.Lock()
        filled: Filled = []
        errors: list[str] = []
        stale: dict[Key, str] = {}
        at: list[Key | None] = [None]  # the domain the pass is asking about
        xml_left = [XML_PER_PASS]  # XML read only for the guest's facts (not its devices): a few per tick
        over = threading.Event()  # the tick went on without the pass
        keyed = [(dom, rec, key_of(dom)) for dom, rec in records]  # once a tick: the check below and the pass

        def one(dom: libvirt.virDomain, rec: Record, key: Key) -> None:
            if key == hung_key:
                stale[key] = "not answering: its per-domain statistics call has not returned"
            elif missing or "state.state" not in rec or (key not in self.devices and xml_left[0] > 0):
                xml_left[0] -= key not in self.devices
                at[0] = key
                try:
                    rec = self._fill(dom, key, rec, missing)
                except libvirt.libvirtError as err:
                    if err.get_error_code() not in VANISHED:
                        errors.append(f"{dom.name()}: {error_line(err)}")
                    return
            with lock:
                if not over.is_set():
                    filled.append((dom, rec, key))

        def run() -> None:
            for dom, rec, key in keyed:
                one(dom, rec, key)
                if over.is_set():
                    return

        if not missing and all("state.state" in rec and key in self.devices for _dom, rec, key in keyed):
            if hung_key is not None and any(key == hung_key for _dom, _rec, key in keyed):  # (as one() says)
                stale[hung_key] = "not answering: its per-domain statistics call has not returned"
            return keyed, errors, stale  # nothing to ask: no round trip, no thread, each kept as it came
        started = time.monotonic()
        try:
            pending = deadlines.start(run, "per-domain statistics")
            pending.wait(max(connection.MIN_DEADLINE_S, 4 * self._last_s) if self._last_s
                         else connection.CONNECT_DEADLINE_S)
        except deadlines.AtCap as err:
            raise SourceError(f"{self.uri!r}: {err}") from None
        except deadlines.NoAnswer:
            with lock:  # the pass may still go on: it must not touch what this tick returns
                over.set()
                got, said, marked = list(filled), list(errors), dict(stale)
            self._hung = (at[0], pending)
            done = {key for _dom, _rec, key in got}
            for dom, rec, key in keyed:
                if key not in done:
                    got.append((dom, rec, key))
                    marked[key] = "not answering: its per-domain statistics calls did not return in time"
            return got, said, marked
        self._last_s = time.monotonic() - started
        return filled, errors, stale

    def _fill(self, dom: libvirt.virDomain, key: Key, rec: Record, missing: frozenset[str]) -> Record:
        """Add what the bulk call left out, by per-domain calls. May raise libvirtError."""
        rec = dict(rec)
        if key not in self.devices:
            self._read_xml(dom, key, strict=bool(missing & {"net", "block"}))
        if "state.state" not in rec or missing & {"cpu", "balloon"}:
            state, max_kib, cur_kib, nr_vcpus, cpu_ns = dom.info()
            rec.setdefault("state.state", state)
            if state == libvirt.VIR_DOMAIN_SHUTOFF:
                return rec
            rec.setdefault("cpu.time", cpu_ns)
            rec.setdefault("balloon.current", cur_kib)
            rec.setdefault("balloon.maximum", max_kib)
            rec.setdefault("vcpu.current", nr_vcpus)
        if rec.get("state.state") == libvirt.VIR_DOMAIN_SHUTOFF:
            return rec
        if "vcpu" in missing:
            self._fill_vcpus(dom, key, rec)
        if missing & {"net", "block"}:
            self._fill_devices(dom, key, rec, missing)
        return rec

    def _fill_vcpus(self, dom: libvirt.virDomain, key: Key, rec: Record) -> None:
        try:
            infos, maps = dom.vcpus()
        except libvirt.libvirtError as err:
            if err.get_error_code() in VANISHED:
                raise
            return
        self.placement.store(key, placement_from_vcpus(infos, maps))  # comes free with the call
        rec["vcpu.current"] = sum(1 for i in infos if i[1] != libvirt.VIR_VCPU_OFFLINE)
        rec.setdefault("vcpu.maximum", len(infos))
        for number, state, cpu_ns, pcpu in infos:
            k_state, k_time, _k_delay, k_pcpu = stat_keys("vcpu", number, VCPU_KEYS)
            rec[k_state] = state
            rec[k_time] = cpu_ns
            rec[k_pcpu] = pcpu

    def _read_xml(self, dom: libvirt.virDomain, key: Key, strict: bool) -> None:
        """The domain's XML, once per (uuid, domid): device names, type, device model, host devices.  Unreadable:
        an error when its devices are needed (``strict``), else the guest's facts are unknown."""
        try:
            self.devices[key] = parse_devices(dom.XMLDesc(0), self.sysfs)
        except libvirt.libvirtError as err:
            if strict or err.get_error_code() in VANISHED:
                raise
            self.devices[key] = Devices((), ())
        except ET.ParseError:
            self.devices[key] = Devices((), ())

    def _fill_devices(self, dom: libvirt.virDomain, key: Key, rec: Record, missing: frozenset[str]) -> None:
        devices = self.devices[key]
        if "net" in missing:
            rec["net.count"] = len(devices.nets)
            for i, name in enumerate(devices.nets):
                keys = stat_keys("net", i, NET_KEYS)
                rec[keys[0]] = name
                _device_stats(rec, keys[1:], functools.partial(dom.interfaceStats, name))
        if "block" in missing:
            rec["block.count"] = len(devices.disks)
            for i, (name, path) in enumerate(devices.disks):
                keys = stat_keys("block", i, BLOCK_KEYS)
                rec[keys[0]] = name
                rec[keys[1]] = path
                # rd_req, rd_bytes, wr_req, wr_bytes, errs (-1: unknown)
                stats = _device_stats(rec, keys[2:6], functools.partial(dom.blockStats, name))
                if stats is not None and stats[4] >= 0:
                    rec[keys[6]] = stats[4]


def _device_stats(rec: Record, keys: tuple[str, ...], read: Callable[[], tuple[int, ...]]) -> tuple[int, ...] | None:
    """One device's counters into ``rec`` (None when unreadable: that device's cells stay unknown)."""
    try:
        stats = read()
    except libvirt.libvirtError as err:
        if err.get_error_code() in VANISHED:
            raise
        return None
    rec.update(zip(keys, stats, strict=False))
    return stats
