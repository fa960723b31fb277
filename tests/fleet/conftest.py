"""The real multi-host lab for tests (tests/fleet/lab; as root; run under `flock /tmp/xentui-lab.lock`).

``fleet_lab`` (package scope) brings the lab up, reusing it when it is already up and healthy, and tears it
all down after the last test of tests/fleet, failed tests or not: its busy guests must not load the tests
after it (``--keep-fleet-lab`` when tests/fleet is on the command line, or ``XENTUI_KEEP_FLEET_LAB=1``, keeps
it for the next run; ``scripts/fleet-lab down`` ends it).
It yields a ``tests.fleet.lab.FleetLab``:

- ``hosts``: ``LabHost`` h2, h3, h4, each with ``name`` ("h2"), ``hostname`` ("xtlab-h2", what
  ``virsh hostname`` says), ``address`` ("127.0.0.2"), ``uri`` ("qemu+tcp://127.0.0.2/system"), ``host_uuid``
  (its libvirtd's, distinct), ``guests`` (running transient tiny guests of ``xentui.lab``: h2-busy (100 %),
  h2-idle (2 vCPUs); h3-half (~50 %), h3-idle; h4-idle), ``exporter`` ("127.0.0.2:9177", the ``instance``
  label Prometheus gives that host's metrics) and ``spec`` (for the helpers below); ``lab.host("h2")``.
- ``prometheus_url``: "http://127.0.0.1:19090", scraping every exporter each 2 s (job ``libvirt``) and the
  slot ``xentui_export`` = "127.0.0.1:9300" (job ``xentui``; ``up == 0`` until something serves there).
- ``ssh_uri``: qemu+ssh to h3 (``ssh_host``) through a real sshd on 127.0.0.3:2222, key-only, with the lab's
  own key, ssh config and known_hosts (the ``command=`` of the URI): nothing of ~/.ssh is read or written.
- ``shared_dir``: the image directory at this same path inside every host (``shared_dir_outside`` from here).
- ``virt_type``: "kvm", or "qemu" where /dev/kvm is unusable.

Helpers for tests of faults: ``tests.fleet.lab.hosts.kill_libvirtd(host.spec)`` ends one host's libvirtd (its
guests run on) and ``start_libvirtd(host.spec)`` starts it again in the same namespace; ``hosts.nsenter``
runs a command inside a host.  A test that stops or moves the lab's guests puts them back (``up()`` repairs
an unhealthy lab by starting it anew, which costs the next user about 15 s).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet import lab


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--keep-fleet-lab", action="store_true", help="leave the fleet lab up after the session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder drives the fleet lab: mark it ``fleet`` (``-m "not fleet"`` leaves it out)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.fleet)


def keep_lab(config: pytest.Config) -> bool:
    return bool(config.getoption("--keep-fleet-lab", default=False)) or os.environ.get(
        "XENTUI_KEEP_FLEET_LAB", "") not in ("", "0")


@pytest.fixture(scope="package")  # down after the last test here: its busy guests must not load later tests
def fleet_lab(request: pytest.FixtureRequest) -> Iterator[lab.FleetLab]:
    if os.geteuid() != 0:
        pytest.skip("the fleet lab needs root (namespaces, mounts, libvirtd)")
    try:
        described = lab.up(log=lambda line: None)
    except lab.LabError as err:
        pytest.fail(f"fleet lab: {err}", pytrace=False)
    try:
        yield described
    finally:
        if not keep_lab(request.config):
            lab.down(log=lambda line: None)
