"""Linux resctrl: LLC occupancy and MBM of the groups that hold a domain's vCPU threads.

For QEMU/KVM hosts where libvirt has no ``<cachetune><monitor>``: each monitoring group
(the root's control groups and every ``mon_groups/*``) counts the tasks in its ``tasks`` file;
a domain's vCPUs are the threads of its qemu process named ``CPU n/KVM``.  The path roots are
constructor arguments only, so tests build a whole tree in a temporary directory; no environment variable
can move them, so xentui (root, with ``A``) never writes anywhere but under /sys/fs/resctrl.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

from xentui.limits import counter
from xentui.model import CacheBank, CacheSample, L3Cache
from xentui.sources.base import SourceError
from xentui.sources.cache_qos.status import CacheStatus
from xentui.sources.hostside import qemu_pid
from xentui.sources.hostside.files import task_ids, vcpu_tids
from xentui.units import UNIT_BYTES

GROUP_PREFIX = "xentui-"  # the monitoring groups xentui makes (attach) and removes (detach)
NOT_GROUPS = {"info", "mon_groups", "mon_data"}
NOT_MOUNTED = "resctrl not mounted: mount -t resctrl resctrl /sys/fs/resctrl (needs Intel RDT or AMD PQoS)"
NO_MONITORING = "resctrl has no L3 monitoring: this CPU lacks CMT/MBM"
_SIZE = re.compile(r"^(\d+)([KMG]?)$")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _counter(path: Path) -> int | None:
    """A mon_data file: bytes, or None for "Unavailable" / "Error" (RMID not readable now)."""
    text = _read(path)
    return counter(int(text)) if text is not None and text.isascii() and text.isdecimal() else None


class Resctrl:
    """One resctrl mount, read (every tick) and written (attach / detach)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, proc: str | os.PathLike[str] | None = None,
                 sys_cpu: str | os.PathLike[str] | None = None,
                 qemu_run: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root or "/sys/fs/resctrl")
        self.proc = Path(proc or "/proc")
        self.sys_cpu = Path(sys_cpu or "/sys/devices/system/cpu")
        self.qemu_run = Path(qemu_run or "/run/libvirt/qemu")
        self._vcpus: dict[tuple[str, int], frozenset[int]] = {}  # (name, qemu pid) -> vCPU thread ids

    # --- what the host has ------------------------------------------------------------

    def status(self) -> str:
        """Why resctrl gives no numbers here, or '' when it does."""
        if not (self.root / "info").is_dir():
            return NOT_MOUNTED
        if not (self.root / "info" / "L3_MON").is_dir():
            return NO_MONITORING
        return ""

    def num_rmids(self) -> int | None:
        text = _read(self.root / "info" / "L3_MON" / "num_rmids")
        return int(text) if text and text.isdecimal() else None

    def l3_caches(self) -> tuple[L3Cache, ...]:
        """Each L3's id and size, from ``cpu*/cache/index*/{level,id,size}``."""
        out: dict[int, int] = {}
        for index in sorted(self.sys_cpu.glob("cpu[0-9]*/cache/index[0-9]*")):
            if _read(index / "level") != "3":
                continue
            cache_id, size = _read(index / "id"), _SIZE.match(_read(index / "size") or "")
            if cache_id and cache_id.isdecimal() and size:
                out[int(cache_id)] = int(size[1]) * UNIT_BYTES[size[2] or "B"]
        return tuple(L3Cache(cid, size) for cid, size in sorted(out.items()))

    # --- groups -------------------------------------------------------------------------

    def groups(self) -> list[tuple[Path, Path | None]]:
        """Every monitoring group except the root's own: (path, its control group if it is a mon group)."""
        out: list[tuple[Path, Path | None]] = []
        controls = [self.root, *sorted(p for p in self._subdirs(self.root) if p.name not in NOT_GROUPS)]
        for control in controls:
            if control != self.root:
                out.append((control, None))
            out.extend((mon, control) for mon in sorted(self._subdirs(control / "mon_groups")))
        return out

    @staticmethod
    def _subdirs(path: Path) -> list[Path]:
        try:
            return [p for p in path.iterdir() if p.is_dir()]
        except OSError:
            return []

    def tasks(self, group: Path) -> frozenset[int]:
        text = _read(group / "tasks") or ""
        return frozenset(int(t) for t in text.split() if t.isdecimal())

    def banks(self, group: Path) -> tuple[CacheBank, ...]:
        """``mon_data/mon_L3_XX/*`` of one group, by cache id."""
        out: list[CacheBank] = []
        for domain in sorted(self._subdirs(group / "mon_data")):
            if not domain.name.startswith("mon_L3_") or not domain.name[7:].isdecimal():
                continue
            out.append(CacheBank(int(domain.name[7:]), _counter(domain / "llc_occupancy"),
                                 _counter(domain / "mbm_total_bytes"), _counter(domain / "mbm_local_bytes")))
        return tuple(out)

    # --- domains ------------------------------------------------------------------------

    def vcpu_threads(self, name: str) -> tuple[frozenset[int], frozenset[int]]:
        """(vCPU thread ids, every thread id) of the domain's qemu; empty when it has none here."""
        pid = qemu_pid(self.qemu_run, name)
        if pid is None:
            return frozenset(), frozenset()
        tids = task_ids(self.proc, pid)
        threads = frozenset(tids)
        vcpus = self._vcpus.get((name, pid))
        if vcpus is None or not vcpus <= threads:  # first look, or a vCPU thread went (hot-unplug, restart)
            vcpus = frozenset(vcpu_tids(self.proc, pid, tids).values())
            self._vcpus = {k: v for k, v in self._vcpus.items() if k[0] != name}
            self._vcpus[(name, pid)] = vcpus
        return vcpus, threads

    def samples(self, names: dict[str, str]) -> dict[str, CacheSample]:
        """{uuid: name} of running domains -> {uuid: CacheSample}: the groups holding only that
        domain's threads and some of its vCPUs, summed (a control group already counts its mon groups)."""
        groups = [(path, parent, self.tasks(path)) for path, parent in self.groups()]
        out: dict[str, CacheSample] = {}
        for uuid, name in names.items():
            vcpus, threads = self.vcpu_threads(name)
            if not vcpus:
                out[uuid] = CacheSample("resctrl", status=f"no qemu vCPU threads found for {name}")
                continue
            chosen = [path for path, _parent, tasks in groups if tasks and tasks <= threads and tasks & vcpus]
            chosen = [p for p in chosen if not any(p.parent.parent == c for c in chosen)]  # mon group inside a chosen
            if not chosen:
                out[uuid] = CacheSample("resctrl", status=CacheStatus.NOT_ATTACHED)
                continue
            out[uuid] = CacheSample("resctrl", group=",".join(str(p.relative_to(self.root)) for p in chosen),
                                    banks=_sum_banks([self.banks(p) for p in chosen]))
        return out

    # --- actions ------------------------------------------------------------------------

    def group_path(self, name: str) -> Path:
        return self.root / "mon_groups" / (GROUP_PREFIX + re.sub(r"[^A-Za-z0-9_.-]", "_", name))

    def attach(self, name: str) -> None:
        """A monitoring group holding the domain's vCPU threads.  SourceError says why not."""
        if reason := self.status():
            raise SourceError(reason)
        vcpus, _threads = self.vcpu_threads(name)
        if not vcpus:
            raise SourceError(f"{name}: no qemu vCPU threads found (is it running on this host?)")
        group = self.group_path(name)
        try:
            group.mkdir()
        except FileExistsError:
            pass  # attached before: write the threads again (a vCPU may have been added)
        except OSError as err:
            if err.errno == errno.ENOSPC:
                raise SourceError(f"no free RMID ({len(self.groups()) + 1} in use of {self.num_rmids() or '?'}): "
                                  "detach another domain first") from None
            raise SourceError(f"cannot make {group}: {err.strerror}") from None
        for tid in sorted(vcpus):  # the kernel takes one task id per write
            try:
                with open(group / "tasks", "w") as tasks:
                    tasks.write(f"{tid}\n")
            except OSError as err:
                if err.errno != errno.ESRCH:  # a thread that just ended is no failure
                    raise SourceError(f"cannot move thread {tid} into {group}: {err.strerror}") from None

    def detach(self, name: str) -> None:
        """Remove the domain's xentui monitoring group.  SourceError says why not."""
        group = self.group_path(name)
        if not group.is_dir():
            raise SourceError(f"{name} has no xentui monitoring group ({group.name}): nothing done")
        try:
            group.rmdir()
        except OSError as err:
            raise SourceError(f"cannot remove {group}: {err.strerror}") from None


def _sum_banks(groups: list[tuple[CacheBank, ...]]) -> tuple[CacheBank, ...]:
    if len(groups) == 1:
        return groups[0]
    by_id: dict[int, list[CacheBank]] = {}
    for banks in groups:
        for b in banks:
            by_id.setdefault(b.cache_id or 0, []).append(b)

    def total(items: list[CacheBank], attr: str) -> int | None:
        values = [getattr(b, attr) for b in items]
        return None if None in values else sum(values)

    return tuple(CacheBank(cid, total(items, "occupancy_bytes"), total(items, "mbm_total_bytes"),
                           total(items, "mbm_local_bytes")) for cid, items in sorted(by_id.items()))
