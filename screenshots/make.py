"""Regenerate every screenshot (SVG and PNG) from deterministic data.

    .venv/bin/python screenshots/make.py [STEM ...]    (only those scenes, e.g. sched-view)

Needs rsvg-convert (Debian: librsvg2-bin) and a monospace font (fonts-dejavu-core) for the PNGs.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.ui.snapshot_app import GUEST_COLUMNS, DemoScreenApp  # noqa: E402

# (file stem, terminal size, app settings, keys pressed before the shot)
SCENES = [
    ("main-120x40", (120, 40), {}, []),
    ("main-80x24", (80, 24), {}, []),
    ("help", (120, 50), {}, ["f1"]),
    ("details-host-cpu", (120, 40), {}, ["t", "v", "n", "b"]),
    ("filter", (120, 40), {}, ["slash", *"^(web|db)", "enter"]),
    ("theme-light", (120, 40), {"theme": "xentui-light"}, []),
    ("theme-classic", (120, 40), {"theme": "classic"}, []),
    ("theme-high-contrast", (120, 40), {"theme": "high-contrast"}, []),
    ("vcpu-view", (120, 40), {}, ["down", "down", "down", "enter"]),
    ("vcpu-pin-preview", (120, 40), {"write": True}, ["down", "down", "down", "enter", "a", "p", *"nodes:1,^7",
                                                      "enter"]),
    ("pcpu-view", (120, 40), {}, ["1"]),
    ("sched-view", (120, 40), {}, ["down", "down", "w"]),
    ("action-menu", (120, 40), {"write": True}, ["x"]),
    ("destroy-confirm", (120, 40), {"write": True}, ["down", "k"]),
    ("cache-qos", (160, 40), {"cache": True}, ["down", "l"]),
    ("charts-domain", (140, 44), {"ticks": 120}, ["down", "down", "down", "h"]),
    ("charts-host", (140, 44), {"ticks": 120}, ["H"]),
    ("charts-cache", (150, 44), {"ticks": 120, "cache": True}, ["slash", *"web-1", "enter", "h"]),
    ("main-history", (120, 30), {"ticks": 40}, []),
    # The guests' own figures (issue 18): IP, AGENT, GMEM(%), RD ms, WR ms and STEAL(%); one guest's agent facts,
    # its memory as it sees it (v) and its disks' latency (b).
    ("guest-columns", (170, 40), {"guest": True, "columns": GUEST_COLUMNS}, ["down"] * 4),  # off build: its levels
    ("guest-detail", (170, 40), {"guest": True, "columns": GUEST_COLUMNS}, ["v", "b"]),
]
# A synthetic fleet of five hosts (one down, one stale): the same screen every run.
FLEET_SCENES = [
    ("fleet-view", (120, 40), {}, []),
    ("fleet-hosts", (120, 30), {}, ["f"]),
    ("fleet-host-opened", (120, 40), {}, ["f", "down", "down", "enter"]),
]
# Alerts firing on the synthetic host (a fixed board): the header's alert line and marked rows; the alerts view.
ALERT_SCENES = [
    ("alerts", (120, 40), {}, ["down"]),
    ("alerts-view", (120, 30), {}, ["exclamation_mark"]),
]
# The bundled demo (real lab guests), paused on its last tick: the same screen every run.
DEMO_SCENES = [
    ("demo-replay", (120, 30), {}, ["space", "end"]),
    ("demo-charts-domain", (140, 44), {}, ["space", "end", "slash", *"linux", "enter", "h"]),  # the guest doing I/O
    ("demo-charts-host", (140, 44), {}, ["space", "end", "H"]),
]


def demo_app():
    from xentui import config
    from xentui.recording.player import ReplayPlayer
    from xentui.recording.reader import demo_path
    from xentui.ui.app import XentuiApp

    player = ReplayPlayer.open(demo_path(), demo=True)
    return XentuiApp(player.source, config.Settings(), config_path=None, player=player)


async def shoot(stem: str, size: tuple[int, int], settings: dict, keys: list[str]) -> Path:
    demo = stem.startswith("demo-")
    if stem.startswith("fleet-"):
        from tests.ui.snapshot_fleet_app import FleetScreenApp

        app = FleetScreenApp()
    elif stem.startswith("alerts"):
        from tests.ui.snapshot_alerts_app import AlertsScreenApp

        app = AlertsScreenApp(**settings)
    else:
        app = demo_app() if demo else DemoScreenApp(**settings)
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.5 if demo else None)
        for key in keys:  # one at a time: a key may open a screen the next one is meant for
            await pilot.press(key)
            await pilot.pause(0.5 if demo else None)  # a replay makes its snapshots in a worker thread
        return Path(app.save_screenshot(filename=f"{stem}.svg", path=str(HERE)))


def to_png(svg: Path) -> Path:
    """rsvg-convert draws Textual's non-breaking spaces too narrow: give it plain, preserved spaces."""
    text = svg.read_text().replace("&#160;", " ").replace("<svg ", '<svg xml:space="preserve" ', 1)
    text = re.sub(r"font-family: [^;\"]*", "font-family: DejaVu Sans Mono, monospace", text)
    # Rich lays cells 0.61 em apart; DejaVu Sans Mono's advance is 0.602 em and rsvg ignores textLength: without
    # the difference as letter-spacing a long run of text drifts left (two cells by column 150).
    text = text.replace("font-size: 20px;", f"font-size: 20px; letter-spacing: {(0.61 - 1233 / 2048) * 20:.3f}px;", 1)
    fixed = svg.with_suffix(".png.svg")
    fixed.write_text(text)
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", "-w", "1600", str(fixed), "-o", str(png)], check=True)
    fixed.unlink()
    return png


def main() -> int:
    if not shutil.which("rsvg-convert"):
        print("screenshots/make.py: rsvg-convert not found; install it with: apt-get install librsvg2-bin")
        return 1
    from xentui.recording.reader import demo_path

    scenes = SCENES + FLEET_SCENES + ALERT_SCENES + (DEMO_SCENES if demo_path().exists() else [])
    wanted = set(sys.argv[1:])
    if wanted - {stem for stem, *_rest in scenes}:
        print(f"screenshots/make.py: no scene {', '.join(sorted(wanted - {s for s, *_r in scenes}))}")
        return 2
    for stem, size, settings, keys in scenes:
        if wanted and stem not in wanted:
            continue
        svg = asyncio.run(shoot(stem, size, settings, keys))
        print(f"{svg.name}  {to_png(svg).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
