"""libvirt's scheduler parameters per domain (KVM: cpu_shares, vcpu/emulator/iothread/global period and quota;
libxl: weight, cap; the test driver: weight), read in the scheduling watch's thread, each call under a deadline.

One ``schedulerParameters()`` call per domain, so a round reads at most BUDGET domains (new ones first, then the
oldest) and stops after ROUND_S: on a big host every domain is read over several rounds, never all at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import libvirt

from xentui.actions import ActionError, ActionParams
from xentui.model import CpuPool, DomainScheduling, SchedulingState
from xentui.sources import deadlines
from xentui.sources.base import SourceError
from xentui.sources.libvirt.errors import error_line

BUDGET = 64  # domains read per round at most
ROUND_S = 5.0  # a round stops reading after this long (calls that hang take their deadline each)
CALL_S = 3.0  # one domain's call
MAX_AGE_S = 10.0  # a domain read longer ago than this is due again
HOST_POOL = "host"  # KVM's one implicit pool: every pCPU, libvirt's scheduler


class LibvirtScheduling:
    """The last parameters of each running domain, refreshed a budget at a time."""

    def __init__(self, conn: Callable[[], libvirt.virConnect], pcpus: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._conn = conn
        self._pcpus = pcpus
        self._clock = clock
        self.scheduler = ""  # libvirt's name for the host's scheduler ("posix" on KVM), once read
        self.entries: dict[str, tuple[float, DomainScheduling]] = {}  # uuid -> (read at, what was read)

    def forget(self, uuid: str) -> None:
        """After an edit: read this domain first in the next round."""
        self.entries.pop(uuid, None)

    def read(self) -> SchedulingState:
        conn = self._conn()
        try:
            doms = deadlines.call(lambda: conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE),
                                  deadlines.QUICK_S, "list domains")
        except libvirt.libvirtError as err:
            raise SourceError(f"schedulers: {error_line(err)}") from None
        by_uuid = {dom.UUIDString(): dom for dom in doms}
        for gone in [u for u in list(self.entries) if u not in by_uuid]:
            self.entries.pop(gone, None)
        began = self._clock()
        errors = [self._read_one(by_uuid[u]) for u in self._due(list(by_uuid)) if self._clock() - began < ROUND_S]
        pools = (CpuPool(HOST_POOL, self.scheduler, frozenset(range(self._pcpus()))),) if self.scheduler else ()
        return SchedulingState(wall=time.time(), pools=pools,
                               domains=tuple(entry[1] for u in by_uuid if (entry := self.entries.get(u))),
                               error=next((e for e in errors if e), ""))

    def _due(self, uuids: list[str]) -> list[str]:
        now = self._clock()
        new = [u for u in uuids if u not in self.entries]
        old = sorted((self.entries[u][0], u) for u in uuids
                     if u in self.entries and now - self.entries[u][0] >= MAX_AGE_S)
        return (new + [u for _at, u in old])[:BUDGET]

    def _read_one(self, dom: libvirt.virDomain) -> str:
        """Read one domain into ``entries``; "" or why not (its old entry is kept, retried when due again)."""
        uuid, name = dom.UUIDString(), dom.name()
        try:
            if not self.scheduler:
                self.scheduler = str(deadlines.call(dom.schedulerType, CALL_S, "scheduler type")[0])
            params = deadlines.call(dom.schedulerParameters, CALL_S, f"scheduler parameters of {name}")
        except (libvirt.libvirtError, deadlines.NoAnswer) as err:
            old = self.entries.get(uuid)
            if old is not None:
                self.entries[uuid] = (self._clock(), old[1])
            if isinstance(err, libvirt.libvirtError) and err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return ""
            why = error_line(err) if isinstance(err, libvirt.libvirtError) else str(err)
            return f"scheduler parameters of {name}: {why}"
        values = tuple((str(k), v) for k, v in params.items() if isinstance(v, int | float))
        self.entries[uuid] = (self._clock(), DomainScheduling(uuid, name, None, self.scheduler, values))
        return ""


def set_parameters(dom: libvirt.virDomain, params: ActionParams) -> None:
    """The domain's live parameters (blocking: under the action's deadline); libvirtError in its own words."""
    values = {name: int(value) for name, value in params["sched"].items()}
    try:
        try:
            dom.setSchedulerParametersFlags(values, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        except libvirt.libvirtError as err:
            if "unsupported flags" not in (err.get_error_message() or ""):
                raise
            dom.setSchedulerParameters(values)  # drivers without flags (the test driver): the running domain
    except LookupError as err:  # libvirt-python's refusal of a name this scheduler does not have
        own = ", ".join(dom.schedulerParameters())
        raise ActionError(f"schedule {dom.name()}: {err}; its scheduler's parameters: {own}: nothing done") from None
