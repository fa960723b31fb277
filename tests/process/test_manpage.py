"""xentui.1 is what scripts/make-manpage makes from the argparse parsers now: it cannot go stale."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_committed_man_page_matches_the_parsers():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "make-manpage"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_man_page_names_every_option_of_every_command():
    from xentui import cli, lab, record_main

    page = (ROOT / "xentui.1").read_text().replace("\\-", "-")
    for parser in (cli.build_parser(), record_main.parser(), lab.parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):  # -h: in the synopsis only
                continue
            for option in action.option_strings:
                assert f"\\fB{option}\\fR" in page, (parser.prog, option)
