"""``xentui export [-c URI] [--listen ADDR:PORT] [--deadline S]``: this host's domains for Prometheus.

OpenMetrics or the Prometheus text format (whichever the scraper asks for) from prometheus_client's own HTTP
server, on the loopback address unless another is given.  Read-only always: the source is opened read-only
and the server answers GETs with metrics and nothing else.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading

from prometheus_client import CollectorRegistry, start_http_server

from xentui.cli.common import STOP_SIGNALS, UsageParser, add_fast_path_option, configure_host_side
from xentui.export.collector import DEFAULT_DEADLINE_S, ExportCollector, SampleKeeper
from xentui.sources import SourceError, open_source
from xentui.text import one_line, visible

DEFAULT_LISTEN = "127.0.0.1:9300"
LISTEN_HINT = "write ADDR:PORT with an IP address, e.g. 127.0.0.1:9300, [::1]:9300 or 0.0.0.0:9300"


def listen_arg(text: str) -> tuple[str, int]:
    """``ADDR:PORT`` (IPv6 in brackets; ``localhost`` is 127.0.0.1) -> (address, port); no name is resolved."""
    host, sep, port = text.rpartition(":")
    host = "127.0.0.1" if host == "localhost" else host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"--listen {text!r}: {LISTEN_HINT}")
    return host, number


def deadline_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 300:
        raise argparse.ArgumentTypeError(f"--deadline {text!r} must be seconds from 0.1 to 300, e.g. 5")
    return value


def parser() -> argparse.ArgumentParser:
    p = UsageParser(prog="xentui export", description="Serve this host's domains as OpenMetrics (or the "
                    "Prometheus text format) for Prometheus to scrape; read-only.")
    p.add_argument("-c", "--connect", metavar="URI", help="hypervisor URI (as for xentui; default: Xen itself "
                   "in a dom0, else $LIBVIRT_DEFAULT_URI or qemu:///system)")
    p.add_argument("--listen", type=listen_arg, default=DEFAULT_LISTEN, metavar="ADDR:PORT",
                   help=f"address to serve on (default {DEFAULT_LISTEN}, loopback only; any other address must "
                        "be given here, e.g. 0.0.0.0:9300)")
    p.add_argument("--deadline", type=deadline_arg, default=DEFAULT_DEADLINE_S, metavar="S",
                   help=f"a scrape answers within S seconds (default {DEFAULT_DEADLINE_S:g}): when the hypervisor "
                        "is slower, with the newest sample marked stale")
    add_fast_path_option(p)
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from xentui.sources.libvirt import fastpath  # (libvirt imported only when asked for)

    fastpath.configure(not args.no_fast_path)  # every figure every tick, never in turns
    configure_host_side("xentui export")
    addr, port = args.listen  # argparse runs the type on the default too
    try:
        source = open_source(args.connect, readonly=True)
    except SourceError as err:
        print(f"xentui export: {one_line(str(err))}", file=sys.stderr)
        return 1
    keeper = SampleKeeper(source, args.deadline)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExportCollector(keeper))
    try:
        server, _thread = start_http_server(port, addr, registry)
    except OSError as err:
        print(f"xentui export: cannot listen on {addr}:{port}: {one_line(err.strerror or str(err))}", file=sys.stderr)
        source.close()
        return 1
    shown = f"[{addr}]" if ":" in addr else addr
    bound = server.server_address[1]
    print(f"xentui export: serving {visible(source.uri)} on http://{shown}:{bound}/metrics "
          f"(scrape deadline {args.deadline:g} s)", file=sys.stderr, flush=True)
    if not ipaddress.ip_address(addr).is_loopback:
        print(f"xentui export: {addr} is reachable from other machines: firewall it to your Prometheus",
              file=sys.stderr, flush=True)
    stop = threading.Event()
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    keeper.close()
    source.close()
    return 0
