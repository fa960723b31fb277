"""Where data comes from: each module is one place, all behind :class:`Source`."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from xentui.sources.base import Source, SourceError

__all__ = ["PROMETHEUS_SCHEMES", "Source", "SourceError", "default_uri", "open_source", "source_class"]

PROMETHEUS_SCHEMES = ("prometheus+http://", "prometheus+https://")
SSH_JSON_SCHEME = "xentui+ssh://"  # a host without libvirt: its own xentui's JSON stream over ssh


def default_uri(env: Mapping[str, str] | None = None, proc_xen: str = "/proc/xen") -> str:
    """``LIBVIRT_DEFAULT_URI``, else Xen when this is a Xen host, else QEMU/KVM."""
    environ = os.environ if env is None else env
    uri = environ.get("LIBVIRT_DEFAULT_URI", "").strip()
    if uri:
        return uri
    return "xen:///system" if os.path.exists(proc_xen) else "qemu:///system"


def _prometheus() -> type[Source]:
    """The Prometheus source's class, imported only when a URI names it."""
    try:
        module = importlib.import_module("xentui.sources.prometheus")
    except ImportError:
        raise SourceError("the Prometheus source (prometheus+http://, prometheus+https://) is not available in "
                          "this xentui; use a libvirt URI such as qemu+ssh://HOST/system") from None
    prometheus: type[Source] = module.PrometheusSource
    return prometheus


def source_class(uri: str) -> type[Source]:
    """The kind of source ``uri`` names, without opening it (its capability flags: what a fleet can offer)."""
    if uri.startswith(PROMETHEUS_SCHEMES):
        return _prometheus()
    if uri.startswith(SSH_JSON_SCHEME):
        from xentui.sources.ssh_json import SshJsonSource

        return SshJsonSource
    if uri.startswith("synthetic://"):
        from xentui.sources.synthetic import SyntheticSource

        return SyntheticSource
    from xentui.sources.libvirt import LibvirtSource

    return LibvirtSource


def open_source(uri: str | None = None, *, readonly: bool = True, basic_auth: tuple[str, str] | None = None,
                bearer_token: str | None = None) -> Source:
    """The source for ``uri``; with none given, Xen itself on a dom0, else :func:`default_uri`.

    ``xentui+ssh://[USER@]HOST`` runs ``xentui -b --format json`` there over ssh (a Xen host without libvirt).
    ``prometheus+http(s)://HOST:PORT`` reads a Prometheus server (its hosts are parts of the sample), with
    ``basic_auth`` (user, password) or a ``bearer_token`` from the fleet file, never from the command line.

    ``synthetic://N`` is a made-up host of N domains with deterministic numbers, for
    benchmarks and trying the UI (it says SYNTHETIC in its header).

    On a dom0 libxenstat sees every domain, where libvirt's libxl driver sees only the
    ones libvirt started; ``-c xen:///system`` still selects libvirt.
    """
    from xentui.sources import xen

    if uri is not None and uri.startswith(SSH_JSON_SCHEME):
        from xentui.sources.ssh_json import SshJsonSource

        return SshJsonSource(uri)
    if uri is not None and uri.startswith(PROMETHEUS_SCHEMES):
        prometheus: Any = _prometheus()  # its constructor is the Prometheus source's own, not Source's
        return prometheus(uri, basic_auth=basic_auth, bearer_token=bearer_token)  # type: ignore[no-any-return]
    if uri is not None and uri.startswith("synthetic://"):
        from xentui.sources.synthetic import SyntheticSource

        count = uri.removeprefix("synthetic://") or "12"
        if not (count.isascii() and count.isdecimal()) or not 1 <= int(count) <= 100_000:  # "²".isdigit(): True
            raise SourceError(f"{uri!r}: write synthetic://N with N domains from 1 to 100000, e.g. synthetic://1000")
        return SyntheticSource(count=int(count), readonly=readonly)
    if uri is None and not os.environ.get("LIBVIRT_DEFAULT_URI") and xen.is_dom0():
        return xen.XenSource(readonly=readonly)
    from xentui.sources.libvirt import LibvirtSource

    return LibvirtSource(uri or default_uri(), readonly=readonly)
