"""The fleet file: what it says, what -c and --fleet pick, and one line (exit 2) for each bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.factories import run_cli
from xentui.sources.fleet import FleetFileError, choose_hosts
from xentui.sources.fleet.config import MAX_FILE_BYTES, MAX_HOSTS, load, name_from_uri, unique_names

GOOD = """
[[hosts]]
name = "kvm1"
uri = "qemu+ssh://root@kvm1.example/system"
group = "rack1"
labels = { dc = "par1", role = "web" }

[[hosts]]
name = "kvm2"
uri = "qemu+tls://kvm2.example/system"
group = "rack1"

[[hosts]]
uri = "qemu+tcp://10.0.0.3/system"

[[hosts]]
name = "prom"
uri = "prometheus+https://prom.example:9090"
basic_auth = { user = "xentui", password_file = "SECRET" }

[groups]
web = ["kvm1", "10.0.0.3"]
"""


def write(tmp_path: Path, text: str) -> Path:
    secret = tmp_path / "prom.pass"
    secret.write_text("s3cret\n")
    path = tmp_path / "fleet.toml"
    path.write_text(text.replace("SECRET", str(secret)))
    return path


def test_a_good_file_gives_its_hosts_groups_labels_and_secrets(tmp_path: Path) -> None:
    fleet = load(write(tmp_path, GOOD))
    assert [(h.name, h.group) for h in fleet.hosts] == [("kvm1", "rack1"), ("kvm2", "rack1"), ("10.0.0.3", ""),
                                                         ("prom", "")]
    assert fleet.hosts[0].labels == (("dc", "par1"), ("role", "web"))
    auth = fleet.hosts[3].basic_auth
    assert auth is not None and (auth.user, auth.password) == ("xentui", "s3cret")
    assert "s3cret" not in repr(fleet.hosts[3]) and "s3cret" not in repr(auth)
    assert [h.name for h in fleet.pick("web", "--fleet web")] == ["kvm1", "10.0.0.3"]
    assert [h.name for h in fleet.pick("rack1", "--fleet rack1")] == ["kvm1", "kvm2"]  # the hosts' own group
    assert len(fleet.pick("all", "--fleet all")) == 4


def test_c_and_fleet_combine_and_bare_uris_are_named_after_their_host_part_made_unique(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    specs = choose_hosts(["qemu+ssh://kvm1/system", "qemu+ssh://root@kvm1:2222/system", "test:///tmp/b.xml",
                          "qemu:///system"], "rack1", path)
    assert [(s.name, s.uri) for s in specs] == [
        ("kvm1", "qemu+ssh://root@kvm1.example/system"), ("kvm2", "qemu+tls://kvm2.example/system"),
        ("kvm1-2", "qemu+ssh://kvm1/system"), ("kvm1-3", "qemu+ssh://root@kvm1:2222/system"),
        ("b", "test:///tmp/b.xml"), ("localhost", "qemu:///system")]
    twice = choose_hosts(["qemu+tls://kvm2.example/system", "xen:///system", "xen:///system"], "rack1", path)
    assert [s.name for s in twice] == ["kvm1", "kvm2", "localhost"]  # a host named twice is watched once
    assert choose_hosts(None, None, tmp_path / "absent.toml") == []  # no -c, no --fleet: the file is not read


def test_names_from_uris_are_always_valid_names() -> None:
    assert name_from_uri("qemu+ssh://root@[::1]/system") == "h__1"  # a name starts with a letter or digit
    assert name_from_uri("xen:///system") == "localhost"
    assert unique_names(["a", "a", "b"], taken=["b"]) == ["a", "a-2", "b-2"]


BAD = {
    "toml syntax (with its line)": ('[[hosts]]\nuri = "qemu:///system"\nname = \n', "line 3"),
    "unknown top key": ('[[host]]\nuri = "qemu:///system"\n', "unknown key 'host'; the file takes [[hosts]]"),
    "unknown host key": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\nport = 22\n',
                         "host a: unknown key 'port'; a host takes name, uri"),
    "wrong type": ('[[hosts]]\nname = "a"\nuri = 5\n', "host a: uri must be a string"),
    "bad uri scheme": ('[[hosts]]\nname = "a"\nuri = "http://x/"\n', "host a: uri 'http://x/' is not a libvirt"),
    "uri with a space": ('[[hosts]]\nname = "a"\nuri = "qemu+ssh://a b/system"\n', "has spaces or control"),
    "uri too long": ('[[hosts]]\nname = "a"\nuri = "qemu+ssh://' + "a" * 1100 + '/system"\n', "at most 1024"),
    "bad port": ('[[hosts]]\nname = "a"\nuri = "qemu+tcp://a:99999/system"\n', "host a: uri"),
    "bad name": ('[[hosts]]\nname = "a b\\u001b"\nuri = "qemu:///system"\n', "hosts[0]: name 'a b␛' must be 1-64"),
    "name too long": ('[[hosts]]\nname = "' + "a" * 65 + '"\nuri = "qemu:///system"\n', "must be 1-64"),
    "duplicate names": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\n[[hosts]]\nname = "a"\n'
                        'uri = "xen:///system"\n', "host a is named twice"),
    "duplicate derived names": ('[[hosts]]\nuri = "qemu+ssh://k/system"\n[[hosts]]\nuri = "xen+ssh://k/system"\n',
                                "host k is named twice"),
    "labels not a table": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\nlabels = ["x"]\n',
                           "labels must be a table"),
    "too many labels": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\nlabels = {'
                        + ", ".join(f"k{i} = 'v'" for i in range(33)) + "}\n", "labels: 33 entries; at most 32"),
    "label value not a string": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\nlabels = { dc = 1 }\n',
                                 "label dc must be a string"),
    "unknown group member": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\n[groups]\nweb = ["a", "b"]\n',
                             "group web: no host named 'b'"),
    "empty group": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\n[groups]\nweb = []\n', "group web is empty"),
    "group 'all'": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\n[groups]\nall = ["a"]\n', "'all' already"),
    "group not a list": ('[[hosts]]\nname = "a"\nuri = "qemu:///system"\n[groups]\nweb = "a"\n',
                         "group web must be a list"),
    "missing secret file": ('[[hosts]]\nname = "p"\nuri = "prometheus+http://127.0.0.1:9090"\n'
                            'bearer_token_file = "/nonexistent/token"\n',
                            "host p: bearer_token_file: '/nonexistent/token': cannot read it (No such file"),
    "secret for libvirt": ('[[hosts]]\nname = "a"\nuri = "qemu+ssh://a/system"\nbearer_token = "t"\n',
                           "are for prometheus+http(s) hosts only"),
    "basic auth without password": ('[[hosts]]\nname = "p"\nuri = "prometheus+http://127.0.0.1:9090"\n'
                                    'basic_auth = { user = "u" }\n', "basic_auth needs password_file"),
    "hosts not tables": ('hosts = ["qemu:///system"]\n', "hosts[0] must be a table"),
    "secret file a device": ('[[hosts]]\nname = "p"\nuri = "prometheus+http://127.0.0.1:9090"\n'
                             'bearer_token_file = "/dev/zero"\n', "'/dev/zero': not a regular file"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_input_is_one_line_naming_the_file_and_what_would_be_right(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(FleetFileError) as err:
        load(path)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}: ") and expected in line, line
    code, out, said = run_cli(["-b", "--format", "json", "--fleet", "all", "--fleet-file", str(path), "-i", "1"])
    assert (code, out, said) == (2, "", f"xentui: {line}\n")


def test_too_many_hosts_and_too_large_a_file_are_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text("".join(f'[[hosts]]\nuri = "qemu+ssh://h{i}/system"\n' for i in range(MAX_HOSTS + 1)))
    with pytest.raises(FleetFileError, match=f"{MAX_HOSTS + 1} hosts; at most {MAX_HOSTS}"):
        load(path)
    path.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(FleetFileError, match="larger than 1024 KiB"):
        load(path)
    path.write_bytes(b'[[hosts]]\nuri = "\xff"\n')
    with pytest.raises(FleetFileError, match=r"not UTF-8 text \(byte 17\)"):
        load(path)


def test_cli_refusals_are_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code, _, said = run_cli(["-b", "--fleet", "all", "-i", "1"])
    assert code == 2 and said.count("\n") == 1
    assert f"{tmp_path}/xentui/fleet.toml: cannot read it" in said  # XDG_CONFIG_HOME honoured
    (tmp_path / "xentui").mkdir()
    write(tmp_path / "xentui", GOOD)
    code, _, said = run_cli(["-b", "--format", "json", "--fleet", "nosuch", "-i", "1"])
    assert (code, said) == (2, f"xentui: --fleet nosuch: {tmp_path}/xentui/fleet.toml has no group 'nosuch': use "
                               "--fleet all or one of rack1, web\n")
    code, _, said = run_cli(["-b", "-c", "test:///a.xml", "-c", "test:///b.xml", "-i", "1"])
    assert (code, said) == (2, "xentui: the xentop text layout shows one host; for 2 hosts use --format json or "
                               "--format csv\n")
    code, _, said = run_cli(["--fleet-file", "x.toml", "-b"])
    assert code == 2 and "give --fleet NAME" in said and said.count("\n") == 1
    code, _, said = run_cli(["record", "-o", str(tmp_path / "r.xtrec"), "-c", "test:///a", "-c", "test:///b"])
    assert (code, said) == (2, "xentui record: recording 2 hosts is not supported yet: give one -c URI\n")
    code, _, said = run_cli(["--record", str(tmp_path / "r2.xtrec"), "-c", "test:///a", "-c", "test:///b"])
    assert (code, said) == (2, "xentui: --record records one host; recording 2 hosts is not supported yet\n")
