"""The detail pane under the table: the selected domain's vCPU, network, block and Cache QoS lines (xentop's
-v -n -x, and l), hidden while no kind of line is chosen."""

from __future__ import annotations

from collections.abc import Set

from textual.widgets import Static

from xentui.model import DomainView, HostSample
from xentui.output.xentop import net_line, vbd_line, vcpu_line
from xentui.text import one_line, visible
from xentui.ui.cache_render import cache_lines
from xentui.ui.literal import Visible, lines


class DetailPane(Static):
    """Plain text lines ("[ca: 0]" is not markup), the domain's name first."""

    def show(self, view: DomainView | None, details: Set[str], host: HostSample | None, attach_key: str = "A") -> None:
        self.set_class(not details or view is None, "-hidden")
        if not details or view is None:
            return
        shown = [Visible(visible(view.name) + (f": {one_line(view.sample.stale)}" if view.sample.stale else ""))]
        if "vcpus" in details:
            shown.extend(map(Visible, vcpu_line(view).split("\n")))  # numbers only
        if "nets" in details:
            shown.extend(Visible(net_line(i, n)) for i, n in enumerate(view.sample.nets))  # numbers only
        if "vbds" in details:
            shown.extend(Visible(vbd_line(i, b)) for i, b in enumerate(view.sample.blocks))  # the name made visible
        if "cache" in details:
            shown.extend(cache_lines(view, host, attach_key))
        self.update(lines(shown))
