"""Xen's Cache QoS (Intel CMT through ``xl psr-*``): parsing its tables, reading them off the tick,
and the words of xl's refusals.  The parsers are pure; :class:`XenCacheQos` runs ``xl``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xentui.model import CacheBank, CacheSample, L3Cache
from xentui.sources.background import Refresher
from xentui.sources.base import SourceError
from xentui.sources.cache_qos.status import CacheStatus
from xentui.sources.xen.xl import Xl, XlError, xl

XEN_DISABLED_HINT = "boot Xen with psr=cmt:1 on a CPU with Intel CMT"
CMT_EVERY_S = 3.0  # `xl psr-cmt-show` cadence (three calls; bandwidths are xl's own short measurement)
CMT_TYPES = ("cache-occupancy", "total-mem-bandwidth", "local-mem-bandwidth")


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
        return CacheSample("xen", status=CacheStatus.NOT_ATTACHED)
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
    """Each socket's L3 size, from the occupancy table."""
    return tuple(L3Cache(s, kb * 1024) for s, kb in zip(table.sockets, table.l3_kb, strict=False))


Tables = tuple[XenCmtTable, XenCmtTable, XenCmtTable]


def cache_monitoring_status(run: Xl = xl) -> str:
    """Why Xen gives no Cache QoS numbers, in xl's own words, or '' when CMT works."""
    try:
        run("psr-cmt-show", "cache-occupancy", timeout=10)
    except XlError as err:
        return xen_status(xl_message(err.message))
    except SourceError as err:
        return str(err)
    return ""


def read_cmt(run: Xl = xl) -> Tables:
    """The three ``xl psr-cmt-show`` tables (a type the CPU lacks comes back with its ``error``)."""
    out = []
    for kind in CMT_TYPES:
        try:
            out.append(parse_psr_cmt_show(run("psr-cmt-show", kind, timeout=10)))
        except XlError as err:
            out.append(XenCmtTable(error=xl_message(err.message)))
        except SourceError as err:
            out.append(XenCmtTable(error=str(err)))
    return out[0], out[1], out[2]


def xen_caches(tables: Tables | None,
               domids: list[int]) -> tuple[dict[int, CacheSample], str, tuple[L3Cache, ...], int | None]:
    """({domid: CacheSample}, why none, L3 sizes, RMIDs) from the last tables read."""
    if tables is None:
        return {}, "reading xl psr-cmt-show…", (), None
    occupancy, total, local = tables
    if occupancy.error:
        return {}, xen_status(occupancy.error), (), None
    caches = {d: xen_cache(d, occupancy, None if total.error else total, None if local.error else local)
              for d in domids}
    return caches, "", xen_l3(occupancy), occupancy.total_rmid


class XenCacheQos:
    """The Xen source's Cache QoS: CMT read off the tick by a :class:`Refresher`, xl's refusals in plain words."""

    def __init__(self, run: Xl = xl) -> None:
        self._run = run
        self.status = cache_monitoring_status(run)
        self.tables: Tables | None = None  # replaced whole by the refresh thread
        self._refresher = Refresher(self._read, lambda: CMT_EVERY_S, "xentui-xl-psr-cmt")
        if not self.status:
            self._refresher.start()

    def _read(self) -> None:
        """Off the tick: `xl psr-cmt-show` measures bandwidth over a short sleep of its own."""
        self.tables = read_cmt(self._run)

    def caches(self, domids: list[int]) -> tuple[dict[int, CacheSample], str, tuple[L3Cache, ...], int | None]:
        """({domid: CacheSample}, why none, L3 sizes, RMIDs) now."""
        if self.status:
            return {}, self.status, (), None
        return xen_caches(self.tables, domids)

    def refusal(self, message: str) -> str:
        """xl's refusal to attach, plainly; running out of RMIDs says what to do."""
        reason = xl_message(message)
        if "RMID" in reason or "No space" in reason or "Too many users" in reason:
            tables = self.tables
            attached = len(tables[0].values or {}) if tables else "?"
            total = tables[0].total_rmid if tables and tables[0].total_rmid else "?"
            return f"no free RMID ({attached} domains attached, {total} RMIDs): detach another domain first"
        return xen_status(reason)

    def wake(self) -> None:
        self._refresher.wake()

    def close(self) -> None:
        self._refresher.close()
