"""What the live view shows, for the reads made in turns (the QEMU monitor's figures, PSI): the domains looked at
are read every tick, the others in turns.  One object, shared by the readers; set from the UI's thread."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class OnScreen:
    rows: frozenset[str] = frozenset()  # uuids of the rows on screen (replaced whole: one store, no lock)
    detail: str | None = None  # the uuid of the domain a detail view shows

    def wants(self, uuid: str) -> bool:
        """Whether the domain is looked at: read every tick.  (One pass that splits the domains reads the fields
        once: two passes calling this could each see another set, the UI's thread replacing it between them.)"""
        return uuid in self.rows or uuid == self.detail
