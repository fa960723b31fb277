"""The lab's test program, run inside the Xen dom0 (system Python, xentui on PYTHONPATH).

It records facts only; the host's pytest asserts on them.  Everything lands in
/root/out: raw outputs of xentop, xentui and xl, and results.json.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

OUT = Path("/root/out")
KERNEL = sorted(Path("/boot").glob("vmlinuz-*"))[-1]
INITRD = Path("/opt/xenlab/domu-initrd.gz")
ITERATIONS = 30
results: dict = {"steps": []}


def sh(*cmd: str, check: bool = True, timeout: float = 400) -> str:
    """Run a command, recorded in results["steps"].  The deadline is generous: under TCG on a loaded host an
    `xl create` with a vif and a disk (bash hotplug scripts) took over 120 s."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    record = {"cmd": " ".join(cmd), "rc": proc.returncode, "out": proc.stdout[-4000:], "err": proc.stderr[-2000:]}
    results["steps"].append(record)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def save(name: str, text: str) -> None:
    (OUT / name).write_text(text)


def loop_disk(name: str, mib: int = 32) -> str:
    path = Path(f"/root/{name}.img")
    with path.open("wb") as f:
        f.truncate(mib << 20)
    return sh("losetup", "-f", "--show", str(path)).strip()


def xl_config(name: str, role: str, ip: str, disk: str | None) -> Path:
    lines = [
        f'name = "{name}"', 'type = "pv"', f'kernel = "{KERNEL}"', f'ramdisk = "{INITRD}"',
        f'extra = "console=hvc0 quiet xenlab_role={role} xenlab_ip={ip}"', "memory = 128", "vcpus = 1",
        "vif = ['bridge=xenbr0']",
    ]
    if disk:
        lines.append(f"disk = ['phy:{disk},xvda,w']")
    path = Path(f"/root/{name}.cfg")
    path.write_text("\n".join(lines) + "\n")
    return path


def libvirt_xml(name: str, role: str, ip: str) -> Path:
    path = Path(f"/root/{name}.xml")
    path.write_text(f"""<domain type='xen'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='xenpv'>linux</type><kernel>{KERNEL}</kernel><initrd>{INITRD}</initrd>
    <cmdline>console=hvc0 quiet xenlab_role={role} xenlab_ip={ip}</cmdline></os>
  <devices><interface type='bridge'><source bridge='xenbr0'/></interface></devices>
</domain>""")
    return path


def wait_up(name: str, timeout: float = 240) -> float:
    log = Path(f"/var/log/xen/console/guest-{name}.log")
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if log.exists() and "XENLAB-DOMU-UP" in log.read_text(errors="replace"):
            return time.monotonic() - started
        time.sleep(1)
    raise RuntimeError(f"{name} did not come up within {timeout:.0f} s")


def read_stamped(proc: subprocess.Popen, lines: list) -> None:
    for line in proc.stdout:
        lines.append((time.time(), line.rstrip("\n")))


def start_stamped(cmd: list[str]) -> tuple[subprocess.Popen, list, threading.Thread]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list = []
    reader = threading.Thread(target=read_stamped, args=(proc, lines))
    reader.start()
    return proc, lines, reader


FIRST_FRAME_S = 300  # xentui's first frame under TCG: 11 s on a quiet host, 64-73 s with three busy loops beside QEMU


def run_together(xentui: list[str], xentop: list[str], prefix: str = "") -> dict[str, list]:
    """xentui and xentop at the same time, every line stamped as it arrives; {tool: [(stamp, line)]}.

    xentui starts first (Python starts slowly under emulation); xentop starts when
    xentui's first frame is out, so that both run in their steady state together.
    """
    runs = {"xentui": start_stamped(xentui)}
    began = time.monotonic()
    while not runs["xentui"][1] and runs["xentui"][0].poll() is None and time.monotonic() - began < FIRST_FRAME_S:
        time.sleep(0.05)
    results[f"{prefix}xentui_first_line_s"] = round(time.monotonic() - began, 2)
    runs["xentop"] = start_stamped(xentop)
    stamped = {}
    for name, (proc, lines, reader) in runs.items():
        proc.wait(timeout=FIRST_FRAME_S + 180)
        reader.join()
        results[f"{prefix}{name}_rc"] = proc.returncode
        results[f"{prefix}{name}_stderr"] = proc.stderr.read()
        save(f"{prefix}{name}.stamped.json", json.dumps(lines))
        stamped[name] = lines
    return stamped


XENTOP = ["xentop", "-b", "-d", "1", "-i", str(ITERATIONS), "-f", "-n", "-x", "-v"]


def side_by_side() -> None:
    """The two batch texts together, compared column by column in the same second."""
    stamped = run_together(["xentui", "-b", "-d", "1", "-i", str(ITERATIONS + 3), "-f", "-n", "-x", "-v"], XENTOP)
    for name, lines in stamped.items():
        save(f"{name}.txt", "\n".join(line for _, line in lines) + "\n")


def span_together() -> None:
    """xentui's JSON beside xentop: each JSON frame carries xentui's own sample time and window, so the
    span comparison weighs xentui's figures by the windows they cover, not by when they reached us."""
    stamped = run_together(["xentui", "-b", "-d", "1", "-i", str(ITERATIONS + 3), "--format", "json"], XENTOP,
                           prefix="span-")
    save("xentui.json", "\n".join(line for _, line in stamped["xentui"]) + "\n")  # affinity comes off the tick


def pin_layout() -> None:
    """Steady loads: the busy domU alone on pCPU 1, everything else on pCPU 0."""
    for domain, cpu in (("Domain-0", "0"), ("xl-io", "0"), ("lv-idle", "0"), ("xl-busy", "1")):
        sh("xl", "vcpu-pin", domain, "all", cpu)


def actions() -> None:
    from xentui.actions import Action, ActionError, perform
    from xentui.sources.xen import XenSource

    ro = XenSource(readonly=True)
    sample = ro.collect()
    host = sample.host
    busy = next(d for d in sample.domains if d.name == "xl-busy")
    try:
        perform(ro, busy, Action.PAUSE, host=host)
        results["readonly_refusal"] = None
    except ActionError as err:
        results["readonly_refusal"] = str(err)
    save("xl-list-after-refusal.txt", sh("xl", "list"))

    rw = XenSource(readonly=False)
    busy = next(d for d in rw.collect().domains if d.name == "xl-busy")
    results["pin_seconds"] = perform(rw, busy, Action.PIN, host=host, vcpu=0, hard="0", soft="1")
    save("xl-vcpu-list-after-pin.txt", sh("xl", "vcpu-list", "xl-busy"))
    time.sleep(4)  # a pin makes xentui re-read affinity at once (xl vcpu-list: ~1-2 s under TCG)
    sample = rw.collect()
    results["topology"] = [[p.number, p.node, p.socket, p.core, p.online] for p in sample.host.topology]
    pinned = next(d for d in sample.domains if d.name == "xl-busy")
    results["affinity_after_pin"] = [sorted(pinned.vcpus[0].hard_affinity or ()),
                                     sorted(pinned.vcpus[0].soft_affinity or ())]
    results["pause_seconds"] = perform(rw, busy, Action.PAUSE, host=host)
    save("xl-list-after-pause.txt", sh("xl", "list"))
    paused = next(d for d in rw.collect().domains if d.name == "xl-busy")
    results["flags_after_pause"] = paused.state_flags
    perform(rw, paused, Action.RESUME, host=host)
    save("xl-list-after-unpause.txt", sh("xl", "list"))
    results["flags_after_unpause"] = next(d for d in rw.collect().domains if d.name == "xl-busy").state_flags
    bogus = dataclasses.replace(busy, uuid="00000000-dead-beef-0000-000000000000")
    try:
        perform(rw, bogus, Action.DESTROY, host=host)
        results["replaced_refusal"] = None
    except ActionError as err:
        results["replaced_refusal"] = str(err)
    save("xl-list-after-replaced.txt", sh("xl", "list"))

    io = next(d for d in rw.collect().domains if d.name == "xl-io")
    perform(rw, io, Action.BALLOON, host=host, memory="96M")
    # The guest's balloon driver gives the memory back at its own pace (under TCG: 128 -> 110 MiB in 3 s):
    # wait until xl lists the new size, or 180 s, then record what xl and xentui say.
    balloon_deadline = time.monotonic() + 180
    while True:
        listing = sh("xl", "list")
        sizes = {f[0]: f[2] for f in (line.split() for line in listing.splitlines()[1:]) if len(f) > 2}
        if sizes.get("xl-io") == "96" or time.monotonic() > balloon_deadline:
            break
        time.sleep(1)
    save("xl-list-after-mem-set.txt", listing)
    results["mem_kib_after_mem_set"] = next(d for d in rw.collect().domains if d.name == "xl-io").mem_kib
    perform(rw, busy, Action.DESTROY, host=host)
    save("xl-list-after-destroy.txt", sh("xl", "list"))
    results["domains_after_destroy"] = sorted(d.name for d in rw.collect().domains)


def guest_facts() -> None:
    """What each domain is, as xentui reads it (off the tick: wait until read), beside xl's own answers."""
    from xentui.sources.xen import XenSource

    save("xl-list-l.txt", sh("xl", "list", "-l"))
    for name in ("xl-busy", "xl-io", "lv-idle"):
        save(f"xl-pci-list-{name}.txt", sh("xl", "pci-list", name))
    src = XenSource(readonly=True)
    started = time.monotonic()
    while True:
        domains = src.collect().domains
        known = [src.guests.get((d.domid, d.uuid)) for d in domains]
        if all(g is not None and g.final for g in known) or time.monotonic() - started > 180:
            break
        time.sleep(0.5)
    results["guest_facts_s"] = round(time.monotonic() - started, 1)
    time.sleep(1)
    results["guest_facts"] = {d.name: {"type": d.domain_type, "device_model": d.device_model,
                                       "hostdevs": list(d.hostdevs), "overhead_ns": d.overhead_ns}
                              for d in src.collect().domains}
    src.close()


def sched_pool() -> None:
    """A cpupool of RTDS (credit2 and a cap if this Xen has no RTDS) on pCPU 1; xl-busy moved into it and given
    30 % through xentui's actions; xentui's JSON and xentop side by side while it runs; then the layout restored.
    A failure is recorded (sched_error) and the other steps go on."""
    from xentui.actions import Action, perform
    from xentui.sources.xen import XenSource

    rw = XenSource(readonly=False)
    try:
        sh("xl", "vcpu-pin", "xl-busy", "all", "all")  # its pCPU leaves Pool-0 next
        sh("xl", "cpupool-cpu-remove", "Pool-0", "1")
        sh("xl", "cpupool-create", 'name="rt"', 'sched="rtds"', 'cpus="1"', check=False)
        rtds = results["sched_rtds"] = results["steps"][-1]["rc"] == 0
        if not rtds:
            sh("xl", "cpupool-create", 'name="rt"', 'sched="credit2"', 'cpus="1"')
        rw.watch_scheduling(True)
        sample = rw.collect()
        busy = next(d for d in sample.domains if d.name == "xl-busy")
        results["sched_cpupool_seconds"] = perform(rw, busy, Action.CPUPOOL, host=sample.host, pool="rt")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the state read after the move knows its scheduler: the edit needs it
            state = rw.collect().scheduling
            if state and any(d.name == "xl-busy" and d.pool == "rt" for d in state.domains):
                break
            time.sleep(0.5)
        sched = {"period_us": 100000, "budget_us": 30000, "extratime": False} if rtds else {"cap": 30}
        results["sched_edit_seconds"] = perform(rw, busy, Action.SCHEDULE, host=sample.host, sched=sched)
        for name, cmd in (("sched-xl-cpupool-list.txt", ["xl", "cpupool-list"]),
                          ("sched-xl-cpupool-list-c.txt", ["xl", "cpupool-list", "-c"]),
                          ("sched-xl-list-c.txt", ["xl", "list", "-c"]),
                          ("sched-xl-sched.txt", ["xl", "sched-rtds", "-v", "all"] if rtds
                           else ["xl", "sched-credit2"])):
            save(name, sh(*cmd))
        time.sleep(3)  # the budget takes hold at once; a few periods for the rates' windows to hold only it
        run_together(["xentui", "-b", "-d", "1", "-i", "14", "--format", "json"],
                     ["xentop", "-b", "-d", "1", "-i", "10", "-f"], prefix="sched-")
        state = rw.collect().scheduling
        results["sched_state"] = None if state is None else {
            "error": state.error,
            "pools": [[p.name, p.scheduler, sorted(p.pcpus), dict(p.params)] for p in state.pools],
            "domains": {d.name: [d.pool, d.scheduler, dict(d.params),
                                 [[b.vcpu, b.period_us, b.budget_us, b.extratime] for b in d.vcpus]]
                        for d in state.domains}}
    except Exception:
        results["sched_error"] = traceback.format_exc()
    finally:
        rw.close()
        for cmd in (("cpupool-migrate", "xl-busy", "Pool-0"), ("cpupool-destroy", "rt"),
                    ("cpupool-cpu-add", "Pool-0", "1"), ("vcpu-pin", "xl-busy", "all", "1")):
            sh("xl", *cmd, check=False)
        save("sched-xl-cpupool-list-after.txt", sh("xl", "cpupool-list", check=False))


def libvirt_view() -> None:
    from xentui.sources.libvirt import LibvirtSource

    src = LibvirtSource("xen:///system")
    sample = src.collect()
    results["libvirt_domains"] = sorted(d.name for d in sample.domains)
    results["libvirt_notices"] = list(sample.notices)
    results["libvirt_bulk_supported"] = src.bulk_supported
    results["libvirt_cpu_ns"] = {d.name: d.cpu_ns for d in sample.domains}
    results["libvirt_topology"] = [[p.number, p.node, p.socket, p.core, p.online] for p in sample.host.topology]
    results["libvirt_affinity"] = {d.name: [sorted(v.hard_affinity or ()) for v in d.vcpus] for d in sample.domains}
    results["libvirt_guest"] = {d.name: [d.domain_type, d.device_model, list(d.hostdevs)] for d in sample.domains}
    # Pinning through libvirt's libxl driver: libvirt-python needs virNodeGetCPUMap, which libxl lacks.
    from xentui.actions import Action, ActionError, perform

    writer = LibvirtSource("xen:///system", readonly=False)
    idle = next(d for d in writer.collect().domains if d.name == "lv-idle")
    try:
        perform(writer, idle, Action.PIN, host=sample.host, vcpu=0, hard="1")
        results["libvirt_pin_refusal"] = None
    except ActionError as err:
        results["libvirt_pin_refusal"] = str(err)
    save("xl-vcpu-list-after-libvirt-pin.txt", sh("xl", "vcpu-list", "lv-idle"))


def main() -> int:
    OUT.mkdir(exist_ok=True)
    try:
        save("xl-info.txt", sh("xl", "info"))
        # the copied tree has no bytecode: compiled once here, not inside the first timed run
        sh("python3", "-m", "compileall", "-q", "/opt/xentui")
        disk_io = loop_disk("vbd-io")
        # libvirt's domU first, while dom0 has the emulated pCPUs to itself: libxl kills a vif hotplug script
        # after 10 s, and with xl-busy spinning on a loaded host vif-bridge took longer than that.
        sh("virsh", "-c", "xen:///system", "create", str(libvirt_xml("lv-idle", "idle", "10.9.0.4")))
        sh("xl", "create", str(xl_config("xl-busy", "busy", "10.9.0.2", None)))
        sh("xl", "create", str(xl_config("xl-io", "io", "10.9.0.3", disk_io)))
        results["boot_seconds"] = {name: wait_up(name) for name in ("xl-busy", "xl-io", "lv-idle")}
        pin_layout()
        time.sleep(2)
        side_by_side()
        span_together()
        save("xl-vcpu-list.txt", sh("xl", "vcpu-list"))
        # xentop 4.21's -p (this xentop is 4.17: it has none): the pCPU table, judged against the domains' CPU
        save("xentui-p.txt", sh("xentui", "-b", "-p", "-d", "1", "-i", "4"))
        save("xl-list.txt", sh("xl", "list"))
        guest_facts()
        sched_pool()
        for name, cmd in (("xl-psr-cmt-show.txt", ["xl", "psr-cmt-show", "cache-occupancy"]),
                          ("xl-psr-hwinfo.txt", ["xl", "psr-hwinfo"])):
            sh(*cmd, check=False)
            save(name, results["steps"][-1]["out"] + results["steps"][-1]["err"])
        libvirt_view()
        actions()
        results["ok"] = True
    except Exception:
        results["ok"] = False
        results["error"] = traceback.format_exc()
    save("results.json", json.dumps(results, indent=1))
    for log in Path("/var/log/xen/console").glob("guest-*.log"):
        save(f"console-{log.stem}.txt", log.read_text(errors="replace"))
    for log in [*Path("/var/log/libvirt/libxl").glob("*.log"), *Path("/var/log/xen").glob("*.log")]:
        save(f"log-{log.parent.name}-{log.name}", log.read_text(errors="replace")[-20000:])  # why a create failed
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
