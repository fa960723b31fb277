"""Cache QoS parsers (pure): libvirt's bulk-stats keys, its legacy perf events, ``xl psr-*`` outputs.

Every parser turns text or a stats record into model records, or says in one line why there is
nothing; none does I/O.  Formats are the ones recorded in ``/work/shared/reference`` (FACTS.md).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from xentui.limits import MAX_CACHES, count, counter
from xentui.model import CacheBank, CacheSample, L3Cache
from xentui.units import UNIT_BYTES

NOT_ATTACHED = "domain not attached: press A to attach"  # the wording
XEN_DISABLED_HINT = "boot Xen with psr=cmt:1 on a CPU with Intel CMT"


# --- libvirt -------------------------------------------------------------------------


def libvirt_cache(rec: dict) -> CacheSample | None:
    """``cpu.cache.monitor.*`` + ``memory.bandwidth.monitor.*`` (resctrl via libvirt), else legacy
    ``perf.cmt/mbmt/mbml``; None when the record has none of them.

    Monitors of several vCPU groups are summed per cache id: the domain's figure is all its vCPUs.
    """
    get = rec.get
    if (not get("cpu.cache.monitor.count") and not get("memory.bandwidth.monitor.count")
            and "perf.cmt" not in rec and "perf.mbmt" not in rec and "perf.mbml" not in rec):
        return None  # the usual case, every tick for every domain: kept cheap
    banks: dict[int | None, dict[str, int]] = {}
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


def libvirt_has_monitor_keys(rec: dict) -> bool:
    """True when libvirt reported the cache-monitor group at all (``cpu.cache.monitor.count``, even 0)."""
    return "cpu.cache.monitor.count" in rec


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


# --- Xen: xl psr-hwinfo / psr-cmt-show -------------------------------------------------


@dataclass(frozen=True)
class XenCmtInfo:
    """``xl psr-hwinfo --cmt``."""

    enabled: bool
    total_rmid: int | None = None
    monitor_types: tuple[str, ...] = ()


def parse_psr_hwinfo(text: str) -> XenCmtInfo:
    enabled, rmids, types = False, None, []
    in_types = False
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if sep and key == "Enabled":
            enabled = value == "1"
        elif sep and key == "Total RMID" and value.isdecimal():
            rmids = int(value)
        elif key.startswith("Supported monitor types"):
            in_types = True
        elif in_types and re.fullmatch(r"[a-z-]+", line.strip()):
            types.append(line.strip())
        else:
            in_types = False
    return XenCmtInfo(enabled, rmids, tuple(types))


@dataclass(frozen=True)
class XenCmtTable:
    """One ``xl psr-cmt-show <type>`` answer."""

    sockets: tuple[int, ...] = ()
    values: dict[int, tuple[int, ...]] | None = None  # domid -> one value per socket (KB, or KB/s)
    l3_kb: tuple[int, ...] = ()  # "Total L3 Cache Size" per socket (cache-occupancy only)
    total_rmid: int | None = None
    error: str = ""  # xl's refusal, e.g. "CMT is disabled in the system"


_LIBXL_PREFIX = re.compile(r"^(?:libxl: )?(?:error|warning): [^:\s]+:\d+:[^:\s]+: ")


def xl_message(text: str) -> str:
    """xl's last non-empty line without libxl's ``libxl: error: file.c:71:function:`` prefix."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return _LIBXL_PREFIX.sub("", lines[-1]) if lines else ""


_ROW = re.compile(r"^(?P<name>.*?)\s+(?P<domid>\d+)(?P<cells>(?:\s+\d+ KB(?:/s)?)+)\s*$")
_L3 = re.compile(r"^Total L3 Cache Size(?P<cells>(?:\s+\d+ KB)+)\s*$")


def parse_psr_cmt_show(text: str) -> XenCmtTable:
    """Rows of attached domains only (a domain not attached is absent); an error text becomes ``error``."""
    sockets: tuple[int, ...] = ()
    values: dict[int, tuple[int, ...]] = {}
    l3: tuple[int, ...] = ()
    rmids = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("Total RMID:"):
            tail = stripped.split(":", 1)[1].strip()
            rmids = int(tail) if tail.isdecimal() else None
        elif stripped.startswith("Name") and "Socket" in stripped:
            sockets = tuple(int(n) for n in re.findall(r"Socket\s+(\d+)", stripped))
        elif m := _L3.match(stripped):
            l3 = tuple(int(n) for n in re.findall(r"(\d+) KB", m["cells"]))
        elif m := _ROW.match(line):
            values[int(m["domid"])] = tuple(int(n) for n in re.findall(r"(\d+) KB", m["cells"]))
        elif not sockets:  # before any table: xl's refusal ("CMT is disabled in the system", ...)
            return XenCmtTable(error=xl_message(stripped))
    return XenCmtTable(sockets, values, l3, rmids)


def xen_status(reason: str) -> str:
    """xl's refusal with what to do about it."""
    if "disabled" in reason or "not supported" in reason:
        return f"{reason}: {XEN_DISABLED_HINT}"
    return reason


def xen_cache(domid: int, occupancy: XenCmtTable, total: XenCmtTable | None,
              local: XenCmtTable | None) -> CacheSample:
    """One domain's Cache QoS from the three ``psr-cmt-show`` tables (bandwidths are KB/s, xl's own rates)."""
    row = (occupancy.values or {}).get(domid)
    if row is None:
        return CacheSample("xen", status=NOT_ATTACHED)
    banks = []
    for i, socket in enumerate(occupancy.sockets):
        banks.append(CacheBank(
            socket,
            occupancy_bytes=row[i] * 1024 if i < len(row) else None,
            mbm_total_bytes_s=_kb_s(total, domid, socket),
            mbm_local_bytes_s=_kb_s(local, domid, socket),
        ))
    return CacheSample("xen", group=f"domid {domid}", banks=tuple(banks))


def _kb_s(table: XenCmtTable | None, domid: int, socket: int) -> float | None:
    if table is None or not table.values or domid not in table.values or socket not in table.sockets:
        return None
    row = table.values[domid]
    i = table.sockets.index(socket)
    return float(row[i] * 1024) if i < len(row) else None


def xen_l3(table: XenCmtTable) -> tuple[L3Cache, ...]:
    return tuple(L3Cache(s, kb * 1024) for s, kb in zip(table.sockets, table.l3_kb, strict=False))
