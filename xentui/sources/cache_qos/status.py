"""Cache QoS status as data: a stable code, no key names (the UI adds what to press)."""

from __future__ import annotations

import enum


class CacheStatus(enum.StrEnum):
    """Why a domain has no Cache QoS numbers, when the reason is one xentui names itself.

    A member is a ``str`` (``CacheSample.status`` holds it or a source's own words), written to
    recordings and the batch JSON ``cache_qos_status`` as its value, the stable code.
    """

    NOT_ATTACHED = "not-attached"  # no monitoring group / RMID holds the domain's vCPUs

    @classmethod
    def of(cls, status: str) -> CacheStatus | None:
        """The member a status stands for (also read back from a recording, or in its 0.x wording)."""
        if isinstance(status, cls):
            return status
        return _BY_TEXT.get(status)


# Recordings made before the code existed carry the sentence the UI now adds.
_BY_TEXT = {"not-attached": CacheStatus.NOT_ATTACHED,
            "domain not attached: press A to attach": CacheStatus.NOT_ATTACHED}
