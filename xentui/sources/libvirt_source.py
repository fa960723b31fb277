"""libvirt: KVM/QEMU, Xen through libxl, remote URIs, the test driver.

Each tick makes ONE ``getAllDomainStats`` call.  What a driver does not give in
bulk (libxl has no bulk call at all; the test driver returns only ``state.*``) is
filled from per-domain calls; which groups are missing is learnt at run time from
what the driver returns, never guessed from the URI.
"""

from __future__ import annotations

import contextlib
import socket
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt

from xentui.model import (
    BlockSample,
    DomainSample,
    DomainState,
    HostSample,
    NetSample,
    RawSample,
    VcpuSample,
)
from xentui.sources import SourceError

# libvirt must never print to stderr: it would corrupt a full-screen UI.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
)
STATS_FLAGS = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT

STATE_BY_CODE = {
    libvirt.VIR_DOMAIN_NOSTATE: DomainState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: DomainState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: DomainState.BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED: DomainState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: DomainState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: DomainState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: DomainState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: DomainState.PMSUSPENDED,
}

# A domain that vanished between listing and asking: normal churn, not a failure.
VANISHED = {libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID}
UNSUPPORTED = {libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED}

# Per-domain calls used when a group is missing from the bulk answer.
PROBE_KEYS = {"cpu": "cpu.time", "balloon": "balloon.current", "vcpu": "vcpu.current",
              "net": "net.count", "block": "block.count"}


def _version(number: int) -> str:
    major, rest = divmod(number, 1_000_000)
    minor, micro = divmod(rest, 1_000)
    return f"{major}.{minor}.{micro}"


def error_line(err: libvirt.libvirtError) -> str:
    return (err.get_error_message() or str(err)).strip().splitlines()[0]


def parse_stats(uuid: str, name: str, domid: int | None, rec: dict) -> DomainSample:
    """A bulk-stats record (``{'cpu.time': ..., ...}``) as a :class:`DomainSample`."""
    state = STATE_BY_CODE.get(rec.get("state.state", 0), DomainState.NOSTATE)
    vcpu_max = rec.get("vcpu.maximum")
    vcpus = tuple(
        VcpuSample(
            number=n,
            online=rec.get(f"vcpu.{n}.state", 1) != libvirt.VIR_VCPU_OFFLINE,
            time_ns=rec.get(f"vcpu.{n}.time"),
            delay_ns=rec.get(f"vcpu.{n}.delay"),
            pcpu=rec.get(f"vcpu.{n}.pcpu"),
        )
        for n in range(vcpu_max or 0)
        if f"vcpu.{n}.state" in rec or f"vcpu.{n}.time" in rec
    )
    nets = tuple(
        NetSample(
            name=rec.get(f"net.{i}.name", f"net{i}"),
            rx_bytes=rec.get(f"net.{i}.rx.bytes"),
            rx_packets=rec.get(f"net.{i}.rx.pkts"),
            rx_errs=rec.get(f"net.{i}.rx.errs"),
            rx_drop=rec.get(f"net.{i}.rx.drop"),
            tx_bytes=rec.get(f"net.{i}.tx.bytes"),
            tx_packets=rec.get(f"net.{i}.tx.pkts"),
            tx_errs=rec.get(f"net.{i}.tx.errs"),
            tx_drop=rec.get(f"net.{i}.tx.drop"),
        )
        for i in range(rec.get("net.count", 0))
    )
    blocks = tuple(
        BlockSample(
            name=rec.get(f"block.{i}.name", f"block{i}"),
            path=rec.get(f"block.{i}.path", ""),
            rd_reqs=rec.get(f"block.{i}.rd.reqs"),
            rd_bytes=rec.get(f"block.{i}.rd.bytes"),
            wr_reqs=rec.get(f"block.{i}.wr.reqs"),
            wr_bytes=rec.get(f"block.{i}.wr.bytes"),
            errors=rec.get(f"block.{i}.errors"),
        )
        for i in range(rec.get("block.count", 0))
    )
    return DomainSample(
        uuid=uuid,
        name=name,
        domid=domid,
        state=state,
        cpu_ns=rec.get("cpu.time"),
        vcpus_current=rec.get("vcpu.current"),
        vcpus_max=vcpu_max,
        mem_kib=rec.get("balloon.current"),
        maxmem_kib=rec.get("balloon.maximum"),
        rss_kib=rec.get("balloon.rss"),
        vcpus=vcpus,
        nets=nets,
        blocks=blocks,
    )


@dataclass(frozen=True)
class Devices:
    """Device names from a domain's XML, cached per (uuid, domid)."""

    nets: tuple[str, ...]
    disks: tuple[tuple[str, str], ...]  # (target, source path)


def parse_devices(xml: str) -> Devices:
    root = ET.fromstring(xml)
    nets = tuple(
        t.get("dev", "")
        for t in root.findall("./devices/interface/target")
        if t.get("dev")
    )
    disks = []
    for disk in root.findall("./devices/disk"):
        target = disk.find("target")
        if target is None or not target.get("dev"):
            continue
        source = disk.find("source")
        path = ""
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("name") or ""
        disks.append((target.get("dev", ""), path))
    return Devices(nets=nets, disks=tuple(disks))


class LibvirtSource:
    """Read one libvirt connection; read-only unless asked otherwise."""

    def __init__(self, uri: str, *, readonly: bool = True, conn: libvirt.virConnect | None = None):
        self.uri = uri
        self.readonly = readonly
        if conn is None:
            try:
                conn = libvirt.openReadOnly(uri) if readonly else libvirt.open(uri)
            except libvirt.libvirtError as err:
                raise SourceError(
                    f"cannot connect to {uri!r}: {error_line(err)} "
                    "(is libvirtd running? choose another hypervisor with -c URI)"
                ) from None
        self.conn = conn
        self.bulk_supported: bool | None = None  # learnt on the first tick
        self.missing_groups: frozenset[str] = frozenset()
        self._devices: dict[tuple[str, int | None], Devices] = {}
        self._host_static = self._read_host_static()
        self._node_memstats = True
        self.calls = 0  # libvirt round trips made by collect(), for tests and bench

    # --- host --------------------------------------------------------------

    def _read_host_static(self) -> dict:
        try:
            model, _mem_mib, cpus, mhz, *_ = self.conn.getInfo()
            hv_type = self.conn.getType()
            try:
                hv_version = _version(self.conn.getVersion())
            except libvirt.libvirtError:
                hv_version = "?"
            try:
                hostname = self.conn.getHostname()
            except libvirt.libvirtError:
                hostname = socket.gethostname()
            return {
                "hostname": hostname,
                "hypervisor": hv_type,
                "hypervisor_version": hv_version,
                "pcpus": cpus,
                "mhz": mhz,
                "cpu_model": model,
                "libvirt_version": _version(self.conn.getLibVersion()),
            }
        except libvirt.libvirtError as err:
            raise SourceError(f"cannot read host information from {self.uri!r}: {error_line(err)}") from None

    def _memory(self) -> tuple[int, int]:
        """(total, free) KiB of the hypervisor's host."""
        if self._node_memstats:
            try:
                self.calls += 1
                stats = self.conn.getMemoryStats(libvirt.VIR_NODE_MEMORY_STATS_ALL_CELLS)
                return stats["total"], stats["free"]
            except libvirt.libvirtError as err:
                if err.get_error_code() not in UNSUPPORTED:
                    raise
                self._node_memstats = False
        self.calls += 2
        total = self.conn.getInfo()[1] * 1024
        free = self.conn.getFreeMemory() // 1024
        return total, free

    def host_sample(self) -> HostSample:
        total, free = self._memory()
        return HostSample(uri=self.uri, mem_total_kib=total, mem_free_kib=free, **self._host_static)

    # --- domains -------------------------------------------------------------

    def _bulk(self) -> list[tuple[libvirt.virDomain, dict]] | None:
        if self.bulk_supported is False:
            return None
        try:
            self.calls += 1
            records = self.conn.getAllDomainStats(STATS, STATS_FLAGS)
        except libvirt.libvirtError as err:
            if err.get_error_code() not in UNSUPPORTED:
                raise
            self.bulk_supported = False
            return None
        self.bulk_supported = True
        return records

    def _listed(self) -> list[tuple[libvirt.virDomain, dict]]:
        """Fallback when there is no bulk call: every domain, with its state."""
        self.calls += 1
        out = []
        for dom in self.conn.listAllDomains(0):
            out.append((dom, {}))
        return out

    def _learn_missing(self, records: list[tuple[libvirt.virDomain, dict]]) -> None:
        """Which groups this driver leaves out, judged on the active domains."""
        active = [rec for _dom, rec in records if rec.get("state.state") not in (None, libvirt.VIR_DOMAIN_SHUTOFF)]
        if not active:
            return
        missing = {group for group, key in PROBE_KEYS.items() if not any(key in rec for rec in active)}
        self.missing_groups = frozenset(missing)

    def _fill(self, dom: libvirt.virDomain, rec: dict, missing: frozenset[str]) -> dict:
        """Add what the bulk call left out, by per-domain calls. May raise libvirtError."""
        rec = dict(rec)
        if "state.state" not in rec or missing & {"cpu", "balloon"}:
            self.calls += 1
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
            self._fill_vcpus(dom, rec)
        if missing & {"net", "block"}:
            self._fill_devices(dom, rec, missing)
        return rec

    def _fill_vcpus(self, dom: libvirt.virDomain, rec: dict) -> None:
        self.calls += 1
        try:
            infos, _maps = dom.vcpus()
        except libvirt.libvirtError as err:
            if err.get_error_code() in VANISHED:
                raise
            return
        rec["vcpu.current"] = sum(1 for i in infos if i[1] != libvirt.VIR_VCPU_OFFLINE)
        rec.setdefault("vcpu.maximum", len(infos))
        for number, state, cpu_ns, pcpu in infos:
            rec[f"vcpu.{number}.state"] = state
            rec[f"vcpu.{number}.time"] = cpu_ns
            rec[f"vcpu.{number}.pcpu"] = pcpu

    def _fill_devices(self, dom: libvirt.virDomain, rec: dict, missing: frozenset[str]) -> None:
        key = (dom.UUIDString(), dom.ID())
        devices = self._devices.get(key)
        if devices is None:
            self.calls += 1
            devices = parse_devices(dom.XMLDesc(0))
            self._devices[key] = devices
        if "net" in missing:
            rec["net.count"] = len(devices.nets)
            for i, name in enumerate(devices.nets):
                rec[f"net.{i}.name"] = name
                self.calls += 1
                try:
                    stats = dom.interfaceStats(name)
                except libvirt.libvirtError as err:
                    if err.get_error_code() in VANISHED:
                        raise
                    continue
                for field, value in zip(
                    ("rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts", "tx.errs", "tx.drop"),
                    stats,
                    strict=False,
                ):
                    rec[f"net.{i}.{field}"] = value
        if "block" in missing:
            rec["block.count"] = len(devices.disks)
            for i, (name, path) in enumerate(devices.disks):
                rec[f"block.{i}.name"] = name
                rec[f"block.{i}.path"] = path
                self.calls += 1
                try:
                    rd_reqs, rd_bytes, wr_reqs, wr_bytes, errs = dom.blockStats(name)
                except libvirt.libvirtError as err:
                    if err.get_error_code() in VANISHED:
                        raise
                    continue
                rec.update({
                    f"block.{i}.rd.reqs": rd_reqs,
                    f"block.{i}.rd.bytes": rd_bytes,
                    f"block.{i}.wr.reqs": wr_reqs,
                    f"block.{i}.wr.bytes": wr_bytes,
                })
                if errs >= 0:
                    rec[f"block.{i}.errors"] = errs

    def collect_domains(self) -> tuple[tuple[DomainSample, ...], tuple[str, ...]]:
        records = self._bulk()
        if records is None:
            records = self._listed()
            self.missing_groups = frozenset(PROBE_KEYS)
        elif self.missing_groups == frozenset() and records:
            self._learn_missing(records)
        missing = self.missing_groups
        samples: list[DomainSample] = []
        errors: list[str] = []
        for dom, rec in records:
            try:
                if missing or "state.state" not in rec:
                    rec = self._fill(dom, rec, missing)
                domid = dom.ID()
                samples.append(parse_stats(dom.UUIDString(), dom.name(), domid if domid >= 0 else None, rec))
            except libvirt.libvirtError as err:
                if err.get_error_code() in VANISHED:
                    continue
                errors.append(f"{dom.name()}: {error_line(err)}")
        live = {(d.uuid, d.domid) for d in samples}
        for key in [k for k in self._devices if k not in live]:
            del self._devices[key]
        return tuple(samples), tuple(errors)

    def collect(self) -> RawSample:
        try:
            before = time.monotonic()
            domains, errors = self.collect_domains()
            after = time.monotonic()
            host = self.host_sample()
        except libvirt.libvirtError as err:
            raise SourceError(f"lost {self.uri!r}: {error_line(err)}") from None
        return RawSample(
            monotonic=(before + after) / 2,
            wall=time.time(),
            host=host,
            domains=domains,
            errors=errors,
        )

    def close(self) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            self.conn.close()
