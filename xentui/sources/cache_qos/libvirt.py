"""libvirt's Cache QoS: its own monitors (bulk-stats keys, legacy perf events), else this host's resctrl.

The parsers are pure; :class:`LibvirtCacheQos` decides, per tick, where each running domain's
figures come from and the host's "why not" line, and attaches / detaches resctrl groups.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from typing import Any

from xentui.actions import Action, ActionError
from xentui.limits import MAX_CACHES, count, counter
from xentui.model import CacheBank, CacheSample, DomainSample, L3Cache
from xentui.sources.base import SourceError
from xentui.sources.cache_qos.resctrl import Resctrl
from xentui.units import UNIT_BYTES

NO_LIBVIRT_MONITOR = "no domain has a libvirt <cachetune><monitor> either"
XEN_THROUGH_LIBVIRT = "libvirt's libxl driver has no Cache QoS: run xentui without -c (it reads xl psr-cmt-show)"
NOT_LOCAL = "no resctrl (not a local QEMU/KVM host)"
Record = dict[str, Any]  # one domain's bulk-stats record


def libvirt_cache(rec: Record) -> CacheSample | None:
    """``cpu.cache.monitor.*`` + ``memory.bandwidth.monitor.*`` (resctrl via libvirt), else legacy
    ``perf.cmt/mbmt/mbml``; None when the record has none of them.

    Monitors of several vCPU groups are summed per cache id: the domain's figure is all its vCPUs.
    """
    get = rec.get
    if (not get("cpu.cache.monitor.count") and not get("memory.bandwidth.monitor.count")
            and "perf.cmt" not in rec and "perf.mbmt" not in rec and "perf.mbml" not in rec):
        return None  # the usual case, every tick for every domain: kept cheap
    banks: dict[int, dict[str, int]] = {}
    names = []
    for n in range(count(get("cpu.cache.monitor.count"), MAX_CACHES)):
        prefix = f"cpu.cache.monitor.{n}"
        names.append(str(get(f"{prefix}.name", n)))
        for m in range(count(get(f"{prefix}.bank.count"), MAX_CACHES)):
            cache_id, size = counter(get(f"{prefix}.bank.{m}.id")), counter(get(f"{prefix}.bank.{m}.bytes"))
            if cache_id is not None and size is not None:
                bank = banks.setdefault(cache_id, {})
                bank["occupancy"] = bank.get("occupancy", 0) + size
    for n in range(count(get("memory.bandwidth.monitor.count"), MAX_CACHES)):
        prefix = f"memory.bandwidth.monitor.{n}"
        names.append(str(get(f"{prefix}.name", f"mbm{n}")))
        for m in range(count(get(f"{prefix}.node.count"), MAX_CACHES)):
            node = f"{prefix}.node.{m}"
            cache_id = counter(get(f"{node}.id"))
            if cache_id is None:
                continue
            bank = banks.setdefault(cache_id, {})
            for key, field in (("bytes.total", "total"), ("bytes.local", "local")):
                value = counter(get(f"{node}.{key}"))
                if value is not None:
                    bank[field] = bank.get(field, 0) + value
    if banks:
        return CacheSample("libvirt", group=",".join(names), banks=tuple(
            CacheBank(cid, counter(b.get("occupancy")), counter(b.get("total")), counter(b.get("local")))
            for cid, b in sorted(banks.items())))
    if any(k in rec for k in ("perf.cmt", "perf.mbmt", "perf.mbml")):
        # Linux perf cqm (gone since 4.14): occupancy bytes and bandwidths in bytes/s, all L3s together.
        return CacheSample("perf", banks=(CacheBank(None, counter(get("perf.cmt")),
                                                    mbm_total_bytes_s=counter(get("perf.mbmt")),
                                                    mbm_local_bytes_s=counter(get("perf.mbml"))),))
    return None


def capabilities_l3(xml: str) -> tuple[L3Cache, ...]:
    """``<cache><bank id= level='3' size= unit=>`` of ``virsh capabilities`` (shown when resctrl is mounted)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return ()
    out = {}
    for bank in root.findall("./host/cache/bank"):
        try:
            if bank.get("level") != "3":
                continue
            out[int(bank.get("id", ""))] = int(bank.get("size", "")) * UNIT_BYTES[bank.get("unit", "B")]
        except (ValueError, KeyError):
            continue
    return tuple(L3Cache(cid, size) for cid, size in sorted(out.items()))


class LibvirtCacheQos:
    """Cache QoS for a libvirt source: libvirt's own monitors first, else resctrl (local QEMU/KVM only)."""

    def __init__(self, resctrl: Resctrl | None, hypervisor: str) -> None:
        self.resctrl = resctrl
        self.hypervisor = hypervisor
        self.status = ""  # the host's "why no numbers" line; '' when they come
        self._facts: tuple[tuple[L3Cache, ...], int | None] | None = None  # (L3 caches, RMIDs), read once
        self._lock = threading.Lock()  # the tick reads the groups an action writes, from another thread

    def caches(self, active: list[tuple[str, Record, str]]) -> dict[str, CacheSample]:
        """resctrl figures for the running (name, record, uuid) libvirt does not monitor; sets :attr:`status`."""
        if self.resctrl is not None:
            reason = self.resctrl.status()
        elif self.hypervisor == "Xen":
            reason = XEN_THROUGH_LIBVIRT
        else:
            reason = NOT_LOCAL
        if reason:
            own = any(libvirt_cache(rec) is not None for _name, rec, _uuid in active)
            self.status = "" if own else f"{reason}; {NO_LIBVIRT_MONITOR}"
            return {}
        self.status = ""
        wanted = {uuid: name for name, rec, uuid in active if libvirt_cache(rec) is None}
        if not wanted or self.resctrl is None:
            return {}
        try:
            with self._lock:
                return self.resctrl.samples(wanted)
        except OSError as err:
            self.status = f"resctrl unreadable: {err.strerror or err}"
            return {}

    def host_facts(self, l3_caches: tuple[L3Cache, ...]) -> tuple[tuple[L3Cache, ...], int | None]:
        """(L3 caches, RMIDs) for the host line: resctrl's when it works (sysfs read once), else libvirt's L3s."""
        if self.resctrl is None or self.status:
            return l3_caches, None
        if self._facts is None:  # hardware facts (sysfs has a cache dir per CPU and level)
            self._facts = (self.resctrl.l3_caches(), self.resctrl.num_rmids())
        l3, rmids = self._facts
        return l3_caches or l3, rmids

    def act(self, domain: DomainSample, action: Action) -> None:
        """Attach / detach a resctrl monitoring group (libvirt's own monitors live in the domain XML)."""
        if domain.cache is not None and domain.cache.source == "libvirt":
            raise ActionError(f"{domain.name} is monitored by libvirt's <cachetune><monitor>: edit its XML "
                              "(virsh edit) to change that; nothing done")
        if self.resctrl is None:
            raise ActionError("cache monitoring groups need resctrl on this host: xentui must run on the "
                              "QEMU/KVM host itself (qemu:///system); nothing done")
        try:
            with self._lock:
                if action is Action.CACHE_ATTACH:
                    self.resctrl.attach(domain.name)
                else:
                    self.resctrl.detach(domain.name)
        except SourceError as err:
            raise ActionError(str(err)) from None
