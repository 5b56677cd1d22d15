"""One lookup from a name or id to the server's active (iqwire.actives)."""

from __future__ import annotations

import pytest

from iqwire import actives
from iqwire.errors import InvalidOrder, UnknownAsset
from iqwire.models import InitializationData


def _init() -> InitializationData:
    def active(active_id: int, name: str, ticker: str | None) -> dict[str, object]:
        return {"id": active_id, "name": name, "ticker": ticker, "option": {"profit": {"commission": 12}}}

    blitz = {"actives": {"76": active(76, "front.EURUSD-OTC", "EURUSD-OTC")}}
    turbo = {"actives": [active(1, "front.EURUSD", "EURUSD"), active(31, "front.AMZN", None)]}
    import msgspec

    return msgspec.convert({"blitz": blitz, "turbo": turbo}, InitializationData)


@pytest.mark.parametrize(
    ("name", "wanted"),
    [
        (76, 76),
        ("76", 76),
        (" 76 ", 76),
        ("EURUSD-OTC", 76),
        ("eurusd-otc", 76),
        ("front.EURUSD-OTC", 76),
        (" Front.eurusd-otc ", 76),
        ("EURUSD", 1),
        ("amzn", 31),  # no ticker: the name without front.
    ],
)
def test_every_spelling_finds_the_same_active(name: str | int, wanted: int) -> None:
    assert actives.resolve(name, _init()).id == wanted


def test_groups_limit_the_search_and_the_message_says_which() -> None:
    with pytest.raises(UnknownAsset, match="blitz") as caught:
        actives.resolve("EURUSD", _init(), groups=("blitz",))
    assert isinstance(caught.value, InvalidOrder) and isinstance(caught.value, LookupError)
    with pytest.raises(UnknownAsset, match="id 999"):
        actives.resolve(999, _init())


def test_label_prefers_the_ticker() -> None:
    init = _init()
    assert actives.label(actives.resolve(76, init)) == "EURUSD-OTC"
    assert actives.label(actives.resolve(31, init)) == "AMZN"
