"""``xl``, Xen's command-line tool: running it under a deadline, reading its tables, its action lines."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from xentui.actions import Action, ActionParams
from xentui.cpulist import CpuListError, format_cpulist, parse_cpulist
from xentui.model import DomainSample, Pcpu
from xentui.sources.base import SourceError
from xentui.sources.guest import parse_bdf
from xentui.threads import spawning

Xl = Callable[..., str]  # xl(*args, timeout=) -> its stdout; XlError when it refuses
VcpuPlacement = dict[tuple[int, int], tuple[int | None, frozenset[int], frozenset[int]]]


class XlError(SourceError):
    """``xl`` refused or failed; ``message`` is its own words (without the command line)."""

    def __init__(self, args: tuple[str, ...], message: str) -> None:
        super().__init__(f"xl {' '.join(args)}: {message}")
        self.message = message


def xl(*args: str, timeout: float = 30.0) -> str:
    """Run ``xl``; its last error line becomes an :class:`XlError` (SourceError when xl is missing or hangs)."""
    try:
        with spawning():
            proc = subprocess.Popen(["xl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise SourceError("xl not found: install Xen's tools (Debian: xen-utils)") from None
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise SourceError(f"xl {' '.join(args)} did not answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = [ln for ln in stderr.splitlines() if ln.strip()] or [ln for ln in stdout.splitlines() if ln.strip()]
        message = lines[-1] if lines else f"exit code {proc.returncode}"
        raise XlError(args, message.split(": ", 1)[-1] if "libxl" in message else message)
    return stdout


def parse_vcpu_list(text: str, ncpus: int) -> VcpuPlacement:
    """``xl vcpu-list`` -> {(domid, vcpu): (pcpu or None, hard, soft)}."""
    out: VcpuPlacement = {}
    for line in text.splitlines()[1:]:
        tokens = line.split()
        if len(tokens) < 9 or tokens[-2] != "/":
            continue
        try:
            domid, vcpu = int(tokens[-8]), int(tokens[-7])
            pcpu = None if tokens[-6] == "-" else int(tokens[-6])
            out[(domid, vcpu)] = (pcpu, parse_cpulist(tokens[-3], ncpus), parse_cpulist(tokens[-1], ncpus))
        except (ValueError, CpuListError):
            continue
    return out


def parse_xl_topology(text: str) -> tuple[Pcpu, ...]:
    """The ``cpu_topology`` table of ``xl info -n`` (``cpu: core socket node``); ``-`` marks an offline CPU."""
    out: list[Pcpu] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("cpu_topology"):
            inside = True
            continue
        if not inside:
            continue
        head, sep, rest = line.partition(":")
        if not sep or not head.strip().isdigit():
            if out and not line.startswith(" "):
                break  # the next section
            continue
        fields = rest.split()
        if len(fields) != 3:
            continue
        if all(f.isdigit() for f in fields):
            core, socket_id, node = map(int, fields)
            out.append(Pcpu(int(head), node=node, socket=socket_id, core=core))
        else:
            out.append(Pcpu(int(head), online=False))
    return tuple(out)


def parse_pci_list(text: str) -> list[str]:
    """``xl pci-list <domain>``'s devices: a ``Vdev Device`` header, then ``%02x.%01x %04x:%02x:%02x.%01x`` per
    device (the guest's slot.function, the host's address); nothing at all when the domain has none."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and (address := parse_bdf(fields[1])) is not None:
            out.append(address)
    return out


ACTION_DEADLINE_S = 30.0  # an action's xl answers within this ...
# ... but `xl destroy` waits until Xen has taken back the domain's devices and memory: tens of seconds for a big
# guest on real hardware, over 30 s for a busy 128 MiB one in the lab's emulated dom0 on a slow host. Killing it
# there would cut a teardown short, so it is given longer.
DESTROY_DEADLINE_S = 300.0


def action_deadline(action: Action) -> float:
    """How long ``xl`` is given to carry out ``action`` before it is stopped."""
    return DESTROY_DEADLINE_S if action is Action.DESTROY else ACTION_DEADLINE_S


_SIMPLE = {Action.PAUSE: "pause", Action.RESUME: "unpause", Action.SHUTDOWN: "shutdown",
           Action.REBOOT: "reboot", Action.DESTROY: "destroy",
           Action.CACHE_ATTACH: "psr-cmt-attach", Action.CACHE_DETACH: "psr-cmt-detach"}


def action_line(domain: DomainSample, action: Action, params: ActionParams, ncpus: int) -> list[str]:
    """The ``xl`` command line for one action (arguments already validated)."""
    domid = str(domain.domid)
    if action in _SIMPLE:
        return [_SIMPLE[action], domid]
    if action is Action.PIN:
        if params.get("persistent"):
            raise SourceError("xl vcpu-pin changes the running domain only; put cpus= / cpus_soft= in its xl config "
                              "file for the next boot: nothing done")
        hard = format_cpulist(params["hard"], ncpus) if "hard" in params else "-"
        soft = format_cpulist(params["soft"], ncpus) if "soft" in params else "-"
        return ["vcpu-pin", domid, str(params["vcpu"]), hard, soft]
    if action is Action.BALLOON:
        return ["mem-set", domid, f"{params['memory_kib']}k"]
    raise SourceError(f"{action.value} is not available on Xen")
