"""The fleet file (``~/.config/xentui/fleet.toml``, docs/fleet.md): hosts, their groups and labels, and which
hosts ``-c URI`` (repeated) and ``--fleet NAME`` pick.

Everything read is outside input: bounded in size and count, checked key by key, and a bad file gives ONE
:class:`FleetFileError` line naming the file, the host or key, and what would be right.
"""

from __future__ import annotations

import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from xentui.model._fast_record import frozen_record
from xentui.text import hide_password, one_line, visible

MAX_FILE_BYTES = 1 << 20
MAX_HOSTS = 5000
MAX_GROUPS = 500
MAX_LABELS = 32
MAX_NAME = 64
MAX_URI = 1024
MAX_LABEL_VALUE = 256
MAX_SECRET_BYTES = 64 << 10
ALL = "all"  # --fleet all: every host of the file

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
LABEL_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# libvirt drivers and their remote transports; Prometheus over HTTP(S); xentui's own JSON stream over ssh (Xen
# without libvirt); the made-up host for trying things.
DRIVERS = ("qemu", "xen", "lxc", "test")
TRANSPORTS = ("", "ssh", "libssh", "libssh2", "tls", "tcp", "unix", "ext")
PROMETHEUS = ("prometheus+http", "prometheus+https")
SCHEMES = (*(f"{d}+{t}" if t else d for d in DRIVERS for t in TRANSPORTS), *PROMETHEUS, "xentui+ssh", "synthetic")
URI_HINT = ("e.g. qemu+ssh://root@kvm1/system, qemu+tcp://10.0.0.2/system, xentui+ssh://root@xen1 or "
            "prometheus+https://prom:9090")
HOST_KEYS = ("name", "uri", "group", "labels", "basic_auth", "bearer_token_file", "bearer_token")
TOP_KEYS = ("hosts", "groups")


class FleetFileError(ValueError):
    """The fleet file (or a -c/--fleet choice) cannot be used: one line saying where and what would be right."""


@frozen_record
class BasicAuth:
    user: str
    password: str

    def __repr__(self) -> str:  # never the password
        return f"BasicAuth(user={self.user!r})"


@frozen_record
class HostSpec:
    """One host to watch: the fleet's name for it, its URI, group, labels and (Prometheus) credentials."""

    name: str
    uri: str
    group: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    basic_auth: BasicAuth | None = None
    bearer_token: str | None = None

    def __repr__(self) -> str:  # never the secrets
        return f"HostSpec(name={self.name!r}, uri={self.uri!r}, group={self.group!r})"


@frozen_record
class FleetFile:
    hosts: tuple[HostSpec, ...]
    groups: tuple[tuple[str, tuple[str, ...]], ...]  # [groups] name -> host names, as written

    def pick(self, name: str, where: str) -> tuple[HostSpec, ...]:
        """The hosts of group ``name`` (a [groups] entry, else every host whose ``group`` is it) or ``all``."""
        if name == ALL:
            return self.hosts
        listed = dict(self.groups).get(name)
        if listed is not None:
            by_name = {h.name: h for h in self.hosts}
            return tuple(by_name[n] for n in listed)
        tagged = tuple(h for h in self.hosts if h.group == name)
        if not tagged:
            known = sorted({*dict(self.groups), *(h.group for h in self.hosts if h.group)})
            raise FleetFileError(f"{where} has no group {visible(name)!r}: use --fleet all"
                                 + (f" or one of {', '.join(known[:20])}" if known else ""))
        return tagged


def default_path(config_dir: Path) -> Path:
    return config_dir / "fleet.toml"


def check_uri(uri: object, where: str) -> str:
    """A URI xentui can watch, or FleetFileError naming what would be right."""
    if not isinstance(uri, str) or not uri:
        raise FleetFileError(f"{where}: uri must be a string, {URI_HINT}")
    if len(uri) > MAX_URI:
        raise FleetFileError(f"{where}: uri is {len(uri)} characters; at most {MAX_URI}")
    if not (uri.isascii() and uri.isprintable()) or " " in uri:
        shown = visible(hide_password(uri))
        raise FleetFileError(f"{where}: uri {shown!r} has spaces or control characters; {URI_HINT}")
    scheme, sep, _ = uri.partition("://")
    if uri.startswith("synthetic://"):
        return uri
    if not sep or scheme.lower() not in SCHEMES:
        raise FleetFileError(f"{where}: uri {hide_password(uri)!r} is not a libvirt or Prometheus URI; {URI_HINT}")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018  # raises on a bad port
    except ValueError as err:
        raise FleetFileError(f"{where}: uri {hide_password(uri)!r}: {one_line(str(err))}; {URI_HINT}") from None
    if scheme.lower() in PROMETHEUS and not parts.hostname:
        raise FleetFileError(f"{where}: uri {hide_password(uri)!r} names no server; e.g. prometheus+http://127.0.0.1:9090")
    return uri


def check_name(name: object, where: str, what: str = "name") -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        shown = visible(name[:80]) if isinstance(name, str) else type(name).__name__
        raise FleetFileError(f"{where}: {what} {shown!r} must be 1-{MAX_NAME} letters, digits, '.', '_' or '-' "
                             "(starting with a letter or digit), e.g. kvm-01")
    return name


def name_from_uri(uri: str) -> str:
    """The HOST name of a bare ``-c URI``: its host part, else the test driver's file name, else ``localhost``."""
    try:
        host = urlsplit(uri).hostname or ""
    except ValueError:
        host = ""
    if not host and uri.startswith("test:"):
        host = Path(urlsplit(uri).path).stem
    name = re.sub(r"[^A-Za-z0-9._-]", "_", host or "localhost")[:MAX_NAME]
    return name if NAME.fullmatch(name) else f"h{name}"[:MAX_NAME]


def unique_names(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """``names`` made unique against each other and ``taken``: a repeat gets ``-2``, ``-3``, ..."""
    used = set(taken)
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in used:
            n += 1
            suffix = f"-{n}"
            candidate = name[:MAX_NAME - len(suffix)] + suffix
        used.add(candidate)
        out.append(candidate)
    return out


def _read(path: Path, limit: int, where: str, fix: str) -> bytes:
    """A regular file's bytes, at most ``limit`` (a FIFO or device is refused: it could block or never end)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise FleetFileError(f"{where}: not a regular file; {fix}")
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except OSError as err:
        raise FleetFileError(f"{where}: cannot read it ({err.strerror or err}); {fix}") from None
    if len(data) > limit:
        raise FleetFileError(f"{where}: larger than {limit >> 10} KiB; {fix}")
    return data


def _secret_file(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise FleetFileError(f"{where} must be the path of a file holding the secret, e.g. \"/etc/xentui/prom.token\"")
    data = _read(Path(value).expanduser(), MAX_SECRET_BYTES, f"{where}: {visible(value)!r}",
                 "give a readable file holding only the secret")
    secret = data.decode("utf-8", "replace").strip()
    if not secret or "\n" in secret:
        raise FleetFileError(f"{where}: {visible(value)!r} must hold the secret on one line")
    return secret


def _secret(table: Mapping[str, Any], key: str, where: str) -> str | None:
    """``key`` inline or ``key_file``: at most one of them; None when neither is given."""
    inline, path = table.get(key), table.get(f"{key}_file")
    if inline is not None and path is not None:
        raise FleetFileError(f"{where}: give {key} or {key}_file, not both")
    if path is not None:
        return _secret_file(path, f"{where}: {key}_file")
    if inline is not None and (not isinstance(inline, str) or not inline or "\n" in inline):
        raise FleetFileError(f"{where}: {key} must be a one-line string (or use {key}_file = \"PATH\")")
    return inline


def _table(value: object, limit: int, what: str, right: str) -> dict[str, Any]:
    """A TOML table of at most ``limit`` entries."""
    if not isinstance(value, dict):
        raise FleetFileError(f"{what} must be {right}")
    if len(value) > limit:
        raise FleetFileError(f"{what}: {len(value)} entries; at most {limit}")
    return value


def _labels(value: object, where: str) -> tuple[tuple[str, str], ...]:
    out = []
    for key, text in _table(value, MAX_LABELS, f"{where}: labels", "a table of strings, e.g. labels = "
                            "{ dc = \"par1\" }").items():
        if not LABEL_KEY.fullmatch(key):
            raise FleetFileError(f"{where}: label {visible(key[:80])!r} must be a name of letters, digits and '_'")
        if not isinstance(text, str) or len(text) > MAX_LABEL_VALUE:
            raise FleetFileError(f"{where}: label {key} must be a string of at most {MAX_LABEL_VALUE} characters")
        out.append((key, text))
    return tuple(out)


def _host(entry: object, index: int, file: str) -> HostSpec:
    where = f"{file}: hosts[{index}]"
    if not isinstance(entry, dict):
        raise FleetFileError(f"{where} must be a table: [[hosts]] with name = \"kvm1\", uri = \"qemu+ssh://...\"")
    if isinstance(entry.get("name"), str) and NAME.fullmatch(entry["name"]):
        where = f"{file}: host {entry['name']}"
    unknown = [k for k in entry if k not in HOST_KEYS]
    if unknown:
        raise FleetFileError(f"{where}: unknown key {visible(unknown[0][:80])!r}; a host takes {', '.join(HOST_KEYS)}")
    uri = check_uri(entry.get("uri"), where)
    name = check_name(entry["name"], where) if "name" in entry else name_from_uri(uri)
    group = check_name(entry["group"], where, "group") if "group" in entry else ""
    labels = _labels(entry["labels"], where) if "labels" in entry else ()
    auth, token = _credentials(entry, where, uri)
    return HostSpec(name=name, uri=uri, group=group, labels=labels, basic_auth=auth, bearer_token=token)


def _credentials(entry: Mapping[str, Any], where: str, uri: str) -> tuple[BasicAuth | None, str | None]:
    token = _secret(entry, "bearer_token", where)
    raw = entry.get("basic_auth")
    auth = None
    if raw is not None:
        if not isinstance(raw, dict) or any(k not in ("user", "password", "password_file") for k in raw):
            raise FleetFileError(f"{where}: basic_auth must be {{ user = \"NAME\", password_file = \"PATH\" }}")
        user = raw.get("user")
        if not isinstance(user, str) or not user or not user.isprintable() or ":" in user:
            raise FleetFileError(f"{where}: basic_auth.user must be a user name without ':'")
        password = _secret(raw, "password", f"{where}: basic_auth")
        if password is None:
            raise FleetFileError(f"{where}: basic_auth needs password_file = \"PATH\" (or password)")
        auth = BasicAuth(user, password)
    if (auth or token) and uri.partition("://")[0].lower() not in PROMETHEUS:
        raise FleetFileError(f"{where}: basic_auth and bearer_token are for prometheus+http(s) hosts only")
    if auth and token:
        raise FleetFileError(f"{where}: give basic_auth or a bearer token, not both")
    return auth, token


def _groups(value: object, names: set[str], file: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for group, members in _table(value, MAX_GROUPS, f"{file}: groups", "a table of lists, e.g. [groups] web = "
                                 "[\"kvm1\", \"kvm2\"]").items():
        where = f"{file}: group {visible(group[:80])}"
        check_name(group, f"{file}: [groups]", "group")
        if group == ALL:
            raise FleetFileError(f"{where}: 'all' already means every host; choose another name")
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise FleetFileError(f"{where} must be a list of host names, e.g. [\"kvm1\", \"kvm2\"]")
        if not members:
            raise FleetFileError(f"{where} is empty: list at least one host")
        for member in members:
            if member not in names:
                raise FleetFileError(f"{where}: no host named {visible(member[:80])!r} in [[hosts]]")
        out.append((group, tuple(dict.fromkeys(members))))
    return tuple(out)


def parse(text: str, file: str) -> FleetFile:
    """The fleet file's text, checked; FleetFileError (one line) on the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise FleetFileError(f"{file}: not valid TOML: {one_line(str(err))}") from None
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise FleetFileError(f"{file}: unknown key {visible(unknown[0][:80])!r}; the file takes [[hosts]] and [groups]")
    entries = data.get("hosts", [])
    if not isinstance(entries, list):
        raise FleetFileError(f"{file}: hosts must be [[hosts]] tables, each with a uri")
    if len(entries) > MAX_HOSTS:
        raise FleetFileError(f"{file}: {len(entries)} hosts; at most {MAX_HOSTS}")
    hosts = [_host(entry, i, file) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for host in hosts:
        if host.name in seen:
            raise FleetFileError(f"{file}: host {host.name} is named twice; give each [[hosts]] its own name")
        seen.add(host.name)
    return FleetFile(hosts=tuple(hosts), groups=_groups(data.get("groups", {}), seen, file))


def load(path: Path) -> FleetFile:
    """Read and check the fleet file at ``path``; FleetFileError when missing, too large or wrong."""
    file = visible(str(path))
    raw = _read(path, MAX_FILE_BYTES, file, "write one (docs/fleet.md) or give --fleet-file PATH")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FleetFileError(f"{file}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    return parse(text, file)


def choose(uris: list[str], fleet: str | None, fleet_file: Path) -> list[HostSpec]:
    """The hosts that ``-c URI`` (each) and ``--fleet NAME`` name together, in that order, names unique.

    The file is read only with ``--fleet``; bare URIs are named after their host part.
    """
    chosen: list[HostSpec] = []
    if fleet is not None:
        chosen.extend(load(fleet_file).pick(fleet, f"--fleet {visible(fleet)}: {visible(str(fleet_file))}"))
    bare: list[str] = []
    for uri in uris:  # any libvirt URI, as with one host: libvirt says what it cannot open
        if not uri or len(uri) > MAX_URI:
            raise FleetFileError(f"-c {visible(uri[:80])!r}: a URI of 1 to {MAX_URI} characters, {URI_HINT}")
        if uri not in bare and all(h.uri != uri for h in chosen):  # a host named twice is watched once
            bare.append(uri)
    names = unique_names((name_from_uri(u) for u in bare), (h.name for h in chosen))
    chosen.extend(HostSpec(name=n, uri=u) for n, u in zip(names, bare, strict=True))
    if len(chosen) > MAX_HOSTS:
        raise FleetFileError(f"{len(chosen)} hosts chosen; at most {MAX_HOSTS}")
    return chosen
