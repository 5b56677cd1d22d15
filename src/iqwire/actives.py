"""Naming actives: the one lookup from a name or id to the server's active.

The server's ``initialization-data`` is the only source: an active is found by
id (``76`` or ``"76"``), ticker or name, case-insensitive, with or without the
web client's ``front.`` prefix. The simulator's table of actives is its data,
never consulted here: against the real server only the real server's names count.

Example::

    init = await client.get_initialization_data(refresh=False)
    eurusd = resolve("eurusd-otc", init)               # any group: blitz, turbo, binary
    blitz = resolve(76, init, groups=("blitz",))        # only actives offered for blitz
    print(eurusd.id, label(eurusd))                     # 76 EURUSD-OTC
"""

from __future__ import annotations

from collections.abc import Sequence

from iqwire.errors import UnknownAsset
from iqwire.models import InitActive, InitializationData

__all__ = ["GROUPS", "label", "names", "resolve"]

#: The instrument groups of the initialization data, in the order they are searched.
GROUPS = ("blitz", "turbo", "binary")


def _normal(text: str) -> str:
    return text.strip().lower().removeprefix("front.")


def names(active: InitActive) -> set[str]:
    """Every spelling an active answers to, normalised (lower case, no ``front.``)."""
    spellings = {_normal(active.name)}
    if active.ticker:
        spellings.add(_normal(active.ticker))
    return spellings


def label(active: InitActive) -> str:
    """A name to show: the ticker, else the name without ``front.``."""
    return active.ticker or active.name.removeprefix("front.")


def resolve(
    name_or_id: str | int, init_data: InitializationData, *, groups: Sequence[str] = GROUPS
) -> InitActive:
    """The active named ``name_or_id`` in the given groups of the initialization data.

    Raises:
        UnknownAsset: no active of these groups has this id or name; the message
            says which groups were searched.
    """
    number = int(name_or_id) if isinstance(name_or_id, int) or name_or_id.strip().isdigit() else None
    wanted = None if number is not None else _normal(str(name_or_id))
    for group in groups:
        members: list[InitActive] = getattr(init_data, group).all()
        for active in members:
            found = active.id == number if number is not None else wanted in names(active)
            if found:
                return active
    where = " or ".join(groups)
    what = f"id {number}" if number is not None else repr(name_or_id)
    raise UnknownAsset(
        f"unknown active {what}: the server offers no such active for {where} options; "
        "use a ticker like EURUSD-OTC or an id like 76"
    )
