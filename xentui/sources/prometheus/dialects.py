"""The libvirt exporters' metric names, mapped once: which figure each dialect calls what.

Checked against each exporter's source: kumina/libvirt_exporter (Debian's ``prometheus-libvirt-exporter``
0.2.0; ``uuid`` on every series), inovex/prometheus-libvirt-exporter (no UUID: only the ``domain`` name,
state in ``libvirt_domain_info_state``, per-vCPU series), Tinkoff/libvirt-exporter (``vstate``, per-vCPU
series, the UUID only on ``libvirt_domain_info_meta``), and xentui's own ``xentui export`` (kumina/inovex
names where they exist, ``uuid`` on every series, ``xentui_*`` for the rest: docs/export.md).  A figure a
dialect lacks is absent from its column: it stays unknown (``-``), never guessed from another figure.
"""

from __future__ import annotations

from dataclasses import dataclass

from xentui.model import DomainState

KUMINA, INOVEX, TINKOFF, XENTUI = "kumina", "inovex", "tinkoff", "xentui"
DIALECTS = (XENTUI, TINKOFF, INOVEX, KUMINA)  # detection order: the most specific first

_DOM = "libvirt_domain_"
_BLK = "libvirt_domain_block_stats_"
_NET = "libvirt_domain_interface_stats_"
_ALL = (KUMINA, INOVEX, TINKOFF, XENTUI)
_VCPU = (INOVEX, TINKOFF, XENTUI)

# figure -> (metric name, the dialects that have it under that name).  Units are the exporters': seconds,
# bytes, counts.  "state" holds libvirt's virDomainState code (the same numbers in every dialect).
TABLE: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "cpu_s": ((_DOM + "info_cpu_time_seconds_total", _ALL),),
    "state": ((_DOM + "state_code", (KUMINA, XENTUI)), (_DOM + "info_state", (INOVEX,)),
              (_DOM + "info_vstate", (TINKOFF,))),
    "vcpus": ((_DOM + "info_virtual_cpus", (KUMINA, TINKOFF, XENTUI)), (_DOM + "vcpu_current", (INOVEX,))),
    "vcpus_max": ((_DOM + "vcpu_maximum", (INOVEX, XENTUI)),),
    "mem_bytes": ((_DOM + "info_memory_usage_bytes", _ALL),),
    "maxmem_bytes": ((_DOM + "info_maximum_memory_bytes", _ALL),),
    "rss_bytes": ((_DOM + "memory_stats_rss_bytes", (INOVEX, TINKOFF, XENTUI)),),
    "meta": ((_DOM + "info_meta", (TINKOFF,)),),  # value 1; its ``uuid`` label names the domain
    "info": (("xentui_domain_info", (XENTUI,)),),  # value 1; labels ``domid``, ``flags`` (xentop's dsbcpr)
    "stale": (("xentui_domain_stale", (XENTUI,)),),  # 1: the exporter's figures for it are old
    # per vCPU (label "vcpu")
    "vcpu_time_s": ((_DOM + "vcpu_time_seconds_total", _VCPU),),
    "vcpu_delay_s": ((_DOM + "vcpu_delay_seconds_total", _VCPU),),
    "vcpu_pcpu": ((_DOM + "vcpu_cpu", (TINKOFF,)), ("xentui_domain_vcpu_pcpu", (XENTUI,))),
    # per disk (label "target_device")
    "blk_rd_bytes": ((_BLK + "read_bytes_total", _ALL),),
    "blk_rd_reqs": ((_BLK + "read_requests_total", _ALL),),
    "blk_wr_bytes": ((_BLK + "write_bytes_total", _ALL),),
    "blk_wr_reqs": ((_BLK + "write_requests_total", _ALL),),
    "blk_errors": (("xentui_domain_block_stats_errors_total", (XENTUI,)),),
    "blk_oo_reqs": (("xentui_domain_block_stats_oo_requests_total", (XENTUI,)),),  # Xen blkback, xentop's VBD_OO
    # per NIC (label "target_device")
    "net_rx_bytes": ((_NET + "receive_bytes_total", _ALL),),
    "net_rx_packets": ((_NET + "receive_packets_total", _ALL),),
    "net_rx_errs": ((_NET + "receive_errors_total", _ALL),),
    "net_rx_drop": ((_NET + "receive_drops_total", _ALL),),
    "net_tx_bytes": ((_NET + "transmit_bytes_total", _ALL),),
    "net_tx_packets": ((_NET + "transmit_packets_total", _ALL),),
    "net_tx_errs": ((_NET + "transmit_errors_total", _ALL),),
    "net_tx_drop": ((_NET + "transmit_drops_total", _ALL),),
    # the exporter's own health: 0 when it cannot reach libvirt (xentui: its sample is not fresh)
    "up": (("libvirt_up", (KUMINA, INOVEX, TINKOFF)), ("xentui_up", (XENTUI,))),
    "scrape_error": (("xentui_scrape_error_info", (XENTUI,)),),  # label ``reason``: why not fresh
    # the host (xentui only; node_exporter's otherwise)
    "host_cpus": (("xentui_host_cpus", (XENTUI,)),),
    "host_mem_total_bytes": (("xentui_host_memory_total_bytes", (XENTUI,)),),
    "host_mem_free_bytes": (("xentui_host_memory_free_bytes", (XENTUI,)),),
    "pcpu_busy_s": (("xentui_host_pcpu_busy_seconds_total", (XENTUI,)),),  # label ``pcpu``
}

# Names only one dialect exports: a target that has one speaks that dialect.
MARKERS: dict[str, str] = {
    "xentui_up": XENTUI,
    _DOM + "info_vstate": TINKOFF,
    _DOM + "info_meta": TINKOFF,
    _DOM + "info_state": INOVEX,
    _DOM + "vcpu_current": INOVEX,
    _DOM + "state_code": KUMINA,
}

# node_exporter on the same machine (same address, another port): the host's own facts, when present.
NODE_MEM_TOTAL = "node_memory_MemTotal_bytes"
NODE_MEM_AVAILABLE = "node_memory_MemAvailable_bytes"
NODE_FACTS = (f'count by (instance) (node_cpu_seconds_total{{mode="idle"}}) or {NODE_MEM_TOTAL} '
              f"or {NODE_MEM_AVAILABLE}")  # the count's series has no name: the pCPUs

# libvirt's virDomainState codes.
STATES = (DomainState.NOSTATE, DomainState.RUNNING, DomainState.BLOCKED, DomainState.PAUSED,
          DomainState.SHUTDOWN, DomainState.SHUTOFF, DomainState.CRASHED, DomainState.PMSUSPENDED)

PER_VCPU = ("vcpu_time_s", "vcpu_delay_s", "vcpu_pcpu")
PER_BLOCK = ("blk_rd_bytes", "blk_rd_reqs", "blk_wr_bytes", "blk_wr_reqs", "blk_errors", "blk_oo_reqs")
PER_NET = ("net_rx_bytes", "net_rx_packets", "net_rx_errs", "net_rx_drop",
           "net_tx_bytes", "net_tx_packets", "net_tx_errs", "net_tx_drop")


@dataclass(frozen=True)
class Names:
    """One dialect's column of the table: metric name -> figure, and the reverse."""

    dialect: str
    figure_of: dict[str, str]
    name_of: dict[str, str]


def names(dialect: str) -> Names:
    figure_of = {name: figure for figure, rows in TABLE.items() for name, who in rows if dialect in who}
    return Names(dialect, figure_of, {f: n for n, f in figure_of.items()})


NAMES = {d: names(d) for d in DIALECTS}
EVERY_NAME = tuple(sorted({name for rows in TABLE.values() for name, _who in rows}))


def detect(present: set[str] | frozenset[str]) -> str | None:
    """The dialect a target speaks, from the metric names it exports (None: no libvirt exporter)."""
    for name, dialect in MARKERS.items():
        if name in present:
            return dialect
    if any(n.startswith("libvirt_domain_") or n == "libvirt_up" for n in present):
        return KUMINA  # kumina before state_code (0.1): the common names only
    return None


def state_of(code: float | None) -> DomainState:
    """libvirt's state code as a DomainState (NOSTATE when unknown or out of range)."""
    if code is None or code != code or not 0 <= code < len(STATES) or code != int(code):
        return DomainState.NOSTATE
    return STATES[int(code)]
