"""Linux resctrl under a temporary root: groups mapped to domains by vCPU threads, attach, detach."""

import errno
import re
from pathlib import Path

import pytest

from tests.resctrl_tree import FakeHost
from xentui.model import CacheBank, L3Cache
from xentui.sources import SourceError
from xentui.sources.cache_qos.resctrl import NO_MONITORING, NOT_MOUNTED, Resctrl
from xentui.sources.cache_qos.status import CacheStatus

MIB = 1 << 20


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    h = FakeHost(tmp_path, cache_ids=(0, 1))
    h.qemu("web", 1000, (1001, 1002), other_tids=(1003,))
    h.qemu("db", 2000, (2001,))
    return h


def test_status_says_why(tmp_path):
    assert Resctrl(tmp_path / "nothing").status() == NOT_MOUNTED
    (tmp_path / "r" / "info" / "L3").mkdir(parents=True)  # allocation only (CAT), no monitoring
    assert Resctrl(tmp_path / "r").status() == NO_MONITORING


def test_no_environment_variable_moves_the_roots(monkeypatch, tmp_path):
    """xentui runs as root and attach writes under the resctrl root: only a constructor argument moves it."""
    for name in ("XENTUI_RESCTRL_ROOT", "XENTUI_PROC_ROOT", "XENTUI_SYS_CPU_ROOT", "XENTUI_QEMU_RUN_DIR"):
        monkeypatch.setenv(name, str(tmp_path))
    r = Resctrl()
    assert (r.root, r.proc, r.sys_cpu, r.qemu_run) == (
        Path("/sys/fs/resctrl"), Path("/proc"), Path("/sys/devices/system/cpu"), Path("/run/libvirt/qemu"))
    assert Resctrl(tmp_path / "r", proc=tmp_path / "p").root == tmp_path / "r"


def test_host_facts(host):
    r = host.resctrl()
    assert r.status() == ""
    assert r.num_rmids() == 4
    assert r.l3_caches() == (L3Cache(0, 32 * MIB), L3Cache(1, 32 * MIB))


def test_mon_group_holding_vcpus_is_the_domains(host):
    host.group("mon_groups/web-vcpus", tasks=(1001, 1002))
    host.counters("mon_groups/web-vcpus", 0, 5 * MIB, 123_456, 100_000)
    host.counters("mon_groups/web-vcpus", 1, "Unavailable", 7, 3)
    out = host.resctrl().samples({"u-web": "web", "u-db": "db", "u-gone": "gone"})
    web = out["u-web"]
    assert web.group == "mon_groups/web-vcpus"
    assert web.banks == (CacheBank(0, 5 * MIB, 123_456, 100_000), CacheBank(1, None, 7, 3))
    assert out["u-db"].status is CacheStatus.NOT_ATTACHED
    assert "no qemu vCPU threads" in out["u-gone"].status


@pytest.mark.parametrize("text", ["\uff11\uff10\uff10\uff10", "1000junk", "-1000", "1" * 40])
def test_a_pid_file_that_is_no_pid_names_no_threads(host, text):
    host.group("mon_groups/web-vcpus", tasks=(1001, 1002))
    (host.run / "web.pid").write_text(text)  # full-width "1000" is decimal to Python, but no pid
    assert host.resctrl().vcpu_threads("web") == (frozenset(), frozenset())


def test_group_with_other_processes_is_not_the_domains(host):
    host.group("mon_groups/mixed", tasks=(1001, 2001))  # two domains in one group: neither's alone
    out = host.resctrl().samples({"u-web": "web"})
    assert out["u-web"].status is CacheStatus.NOT_ATTACHED


def test_control_group_counts_its_mon_groups_once(host):
    """libvirt's cachetune makes a control group per domain; a mon group inside it is not added again."""
    host.group("qemu-1-web-vcpus_0-1", tasks=(1001, 1002))
    host.group("qemu-1-web-vcpus_0-1/mon_groups/m", tasks=(1001,))
    host.counters("qemu-1-web-vcpus_0-1", 0, 3 * MIB, 10, 5)
    host.counters("qemu-1-web-vcpus_0-1/mon_groups/m", 0, MIB, 4, 2)
    web = host.resctrl().samples({"u": "web"})["u"]
    assert web.group == "qemu-1-web-vcpus_0-1"
    assert web.banks[0] == CacheBank(0, 3 * MIB, 10, 5)


def test_vcpus_split_over_groups_are_summed(host):
    host.group("mon_groups/a", tasks=(1001,))
    host.group("mon_groups/b", tasks=(1002,))
    host.counters("mon_groups/a", 0, MIB, 10, 5)
    host.counters("mon_groups/b", 0, 2 * MIB, 20, 10)
    web = host.resctrl().samples({"u": "web"})["u"]
    assert web.group == "mon_groups/a,mon_groups/b"
    assert web.banks[0] == CacheBank(0, 3 * MIB, 30, 15)


def test_attach_writes_vcpu_threads_and_detach_removes(host):
    r = host.resctrl()
    r.attach("web")
    group = host.root / "mon_groups" / "xentui-web"
    assert group.is_dir() and r.group_path("web") == group
    assert (group / "tasks").read_text() == "1002\n"  # one tid per write: the file keeps the last (a real one, all)
    (group / "tasks").unlink()  # the kernel removes a group with its files; a plain directory needs this
    r.detach("web")
    assert not group.exists()
    with pytest.raises(SourceError, match="no xentui monitoring group"):
        r.detach("web")


def test_attach_out_of_rmids_is_said_plainly(host, monkeypatch):
    host.group("mon_groups/other", tasks=(2001,))

    def no_rmid(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "mkdir", no_rmid)
    with pytest.raises(SourceError) as err:
        host.resctrl().attach("web")
    assert str(err.value) == "no free RMID (2 in use of 4): detach another domain first"


def test_attach_refused_without_resctrl_or_domain(tmp_path, host):
    with pytest.raises(SourceError, match="resctrl not mounted"):
        Resctrl(tmp_path / "none").attach("web")
    with pytest.raises(SourceError, match="no qemu vCPU threads"):
        host.resctrl().attach("nowhere")


def test_libvirt_source_attaches_through_the_guards(host):
    """A (write mode) on the test driver's domain: perform() checks, the source makes the resctrl group."""
    import libvirt

    from xentui.actions import READ_ONLY, Action, ActionError, perform
    from xentui.sources.libvirt import LibvirtSource

    host.qemu("test", 4242, (4243,))
    source = LibvirtSource("test:///default", readonly=False, conn=libvirt.open("test:///default"),
                           resctrl=host.resctrl())
    try:  # closed whatever happens: an open connection keeps test:///default's one state for later tests
        raw = source.collect()
        test = next(d for d in raw.domains if d.name == "test")
        assert test.cache.status is CacheStatus.NOT_ATTACHED
        perform(source, test, Action.CACHE_ATTACH, host=raw.host)
        assert (host.root / "mon_groups" / "xentui-test" / "tasks").read_text() == "4243\n"
        assert source.collect().domains[0].cache.group == "mon_groups/xentui-test"
        source.readonly = True
        with pytest.raises(ActionError, match=re.escape(READ_ONLY)):
            perform(source, test, Action.CACHE_DETACH, host=raw.host)
    finally:
        source.close()


def test_libvirt_monitored_domain_is_not_detached_by_xentui(host):
    import libvirt

    from xentui.actions import Action, ActionError
    from xentui.model import CacheSample, DomainSample, DomainState
    from xentui.sources.libvirt import LibvirtSource

    source = LibvirtSource("test:///default", readonly=False, conn=libvirt.open("test:///default"),
                           resctrl=host.resctrl())
    d = DomainSample(uuid="u", name="test", domid=1, state=DomainState.RUNNING, cache=CacheSample("libvirt"))
    try:
        with pytest.raises(ActionError, match="monitored by libvirt's <cachetune><monitor>"):
            source.act(d, Action.CACHE_DETACH, {})
    finally:
        source.close()
