"""What every command shares: one-line usage errors with exit status 2, the delay argument."""

from __future__ import annotations

import argparse
from typing import NoReturn

from xentui.config import check_delay

EXIT_USAGE = 2


class UsageParser(argparse.ArgumentParser):
    """Bad options: one line naming the fix, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see '{self.prog} --help')\n")


def delay_arg(text: str) -> float:
    try:
        return check_delay(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
