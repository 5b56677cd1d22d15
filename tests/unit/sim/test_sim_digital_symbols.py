"""Digital instrument ids: what the simulator writes, it reads back (and nothing else)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from iqwire.sim.actives import DEFAULT_ACTIVES
from iqwire.sim.digital_instruments import PERIODS, parse_symbol, symbol

names = st.sampled_from([spec.name for spec in DEFAULT_ACTIVES])
# Minute boundaries between 2001 and 2100.
expiries = st.integers(min_value=16_500_000, max_value=68_000_000).map(lambda m: m * 60)
strikes = st.one_of(
    st.just("SPT"), st.integers(min_value=1, max_value=99_999_000_000).map(lambda v: f"{v / 1e6:.6f}")
)


@given(names, expiries, st.sampled_from(PERIODS), st.sampled_from(["call", "put"]), strikes)
def test_a_symbol_reads_back(name: str, expiration: int, period: int, direction: str, strike: str) -> None:
    parsed = parse_symbol(symbol(name, expiration, period, direction, strike))
    assert parsed is not None
    assert (parsed.name, parsed.expiration, parsed.period, parsed.direction, parsed.strike) == (
        name,
        expiration,
        period,
        direction,
        strike,
    )


def test_the_community_clients_id_and_garbage() -> None:
    parsed = parse_symbol("doEURUSD-OTC202612071510PT1MCSPT")
    assert parsed is not None and (parsed.name, parsed.period, parsed.direction) == ("EURUSD-OTC", 60, "call")
    for bad in (
        "",
        "do",
        "EURUSD202612071510PT1MCSPT",
        "doEURUSD2026120715PT1MCSPT",
        "doEURUSD202612071510PT1MXSPT",
    ):
        assert parse_symbol(bad) is None


@given(st.text(max_size=60))
def test_any_text_parses_or_is_refused_without_error(text: str) -> None:
    parse_symbol(text)
