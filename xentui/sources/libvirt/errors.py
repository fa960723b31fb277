"""libvirt's errors: one line for the admin, the codes xentui treats as normal churn, and silence.

Importing this module silences libvirt's default error handler, once for the process: libvirt
must never print to stderr, it would corrupt a full-screen UI.
"""

from __future__ import annotations

import libvirt

# A domain that vanished between listing and asking: normal churn, not a failure.
VANISHED = {libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID}
UNSUPPORTED = {libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED}


def error_line(err: libvirt.libvirtError) -> str:
    """The first line of libvirt's message (its own words, without the Python wrapper's)."""
    lines = (err.get_error_message() or str(err)).strip().splitlines()
    return lines[0] if lines else type(err).__name__


libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
