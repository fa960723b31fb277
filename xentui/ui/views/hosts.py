"""The fleet's host list: one line per host, the sick ones first; Enter opens that host's own view."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import set_cell_size
from textual.app import ComposeResult
from textual.widgets import Footer, OptionList
from textual.widgets.option_list import Option

from xentui.model import DomainView, HostView, Snapshot
from xentui.text import Visible, one_line, visible
from xentui.ui import frame
from xentui.ui.fleet import host_order
from xentui.ui.literal import literal, markup
from xentui.ui.views.base import LiveView
from xentui.units import human_kib

NAME_CELLS = 16
GROUP_CELLS = 10


def host_line(host: HostView, mine: Sequence[DomainView]) -> str:
    """``up    h2   rack-a   12 dom  24/16 vCPU/pCPU  3.0G of 64.0G  why`` (``mine``: its active domains); names
    made visible, cut to fit."""
    vcpus = sum(d.sample.vcpus_current or 0 for d in mine)
    mem = sum(d.sample.mem_kib or 0 for d in mine)
    facts = host.host
    cpus = f"{vcpus}/{facts.pcpus or '-'}" if facts else f"{vcpus}/-"  # 0: the source does not say
    total = human_kib(facts.mem_total_kib) if facts and facts.mem_total_kib else "-"
    why = f"  {one_line(host.reason)}" if host.reason and not host.state.live else ""
    return Visible(f"{host.state.value:<10} {set_cell_size(visible(host.name), NAME_CELLS)} "  # made visible once
                   f"{set_cell_size(visible(host.group), GROUP_CELLS)} {host.domains:>5} dom {cpus:>9} vCPU/pCPU "
                   f"{human_kib(mem) if facts else '-':>9} of {total:<9}{why}")


class HostsScreen(LiveView):
    """Every host of the fleet; Enter: that host alone (its header, its domains, its views and actions)."""

    TITLE_ID = "hosts-title"
    _names: list[str] = []  # the hosts of the list shown, in its order
    DEFAULT_CSS = """
    HostsScreen #hosts-list { height: 1fr; border: none; padding: 0; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        yield OptionList(id="hosts-list")
        yield Footer()

    def show(self, snapshot: Snapshot) -> None:
        if not snapshot.fleet:
            self.set_title(literal("not a fleet: one host is watched (Esc: back)"))
            return
        sums = frame.fleet(snapshot).sums  # prepared in the poller's thread
        self.set_title(markup("[b]$hosts hosts[/b], $live up; the sick first.  Enter: that host alone   Esc: back",
                              hosts=sums.hosts, live=sums.live))
        options = self.query_one("#hosts-list", OptionList)
        chosen = self._chosen(options.highlighted_option)
        hosts = host_order(snapshot)
        options.clear_options()
        self._names = [h.name for h in hosts]  # option ids are positions: two hosts may share a name
        active: dict[str, list[DomainView]] = {}  # one walk over the domains (10,000 in a big fleet), not one a host
        for d in snapshot.domains:
            if d.sample.active:
                active.setdefault(d.host, []).append(d)
        options.add_options(Option(literal(host_line(h, active.get(h.name, ()))), id=str(i))
                            for i, h in enumerate(hosts))
        options.highlighted = self._names.index(chosen) if chosen in self._names else (0 if hosts else None)

    def _chosen(self, option: Option | None) -> str | None:
        """The host an option (its id: a position in the list last shown) stands for."""
        if option is None or option.id is None or not option.id.isdigit() or int(option.id) >= len(self._names):
            return None
        return self._names[int(option.id)]

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#hosts-list", OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        name = self._chosen(event.option)
        self.dismiss(None)
        if name is not None:
            self.xentui.fleet.enter(name)
