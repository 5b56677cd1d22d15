"""The simulator's actives: their prices, payouts and weekly trading schedules.

An OTC active trades around the clock. A regular active is closed during
weekly *closed windows*: ``(start, end)`` pairs of seconds since Monday
00:00 UTC, ``start`` inclusive, ``end`` exclusive. Windows are normalised when
an :class:`ActiveSpec` is built (sorted, merged, and split where they wrap past
the end of the week), so a window ending on Monday may be written with an end
beyond :data:`WEEK`.

Example::

    spec = find_active("EURUSD")
    is_open(spec, 1_770_000_000)
    schedule(spec, 1_770_000_000, 1_770_086_400)   # [[open, close), ...]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DAY",
    "DEFAULT_ACTIVES",
    "FOREX_CLOSED_WINDOWS",
    "LISTED_AT",
    "US_STOCK_CLOSED_WINDOWS",
    "WEEK",
    "ActiveSpec",
    "closure_start",
    "find_active",
    "is_open",
    "next_open",
    "schedule",
    "week_offset",
]

DAY = 86_400
WEEK = 7 * DAY
#: Monday 1970-01-05 00:00 UTC: the origin of week offsets.
_MONDAY = 4 * DAY
#: 2025-01-01 00:00 UTC: the first second of every default active's history.
LISTED_AT = 1_735_689_600
#: Prices are held as integers ``price * 10**precision`` (int32), which bounds this product.
_MAX_SCALED_PRICE = 1e8
_KINDS = frozenset({"forex", "stock", "crypto"})


def week_offset(day: int, hour: int, minute: int = 0) -> int:
    """Seconds since Monday 00:00 UTC of ``day`` (0 = Monday … 6 = Sunday) at ``hour:minute``.

    Example::

        (week_offset(4, 21), week_offset(6, 22))   # Friday 21:00 to Sunday 22:00
    """
    return day * DAY + hour * 3600 + minute * 60


#: Forex: closed 21:00-22:00 UTC every day, and from Friday 21:00 to Sunday 22:00 UTC.
FOREX_CLOSED_WINDOWS: tuple[tuple[int, int], ...] = (
    *((week_offset(d, 21), week_offset(d, 22)) for d in range(4)),
    (week_offset(4, 21), week_offset(6, 22)),
)
#: US stocks: open only 13:30-20:00 UTC, Monday to Friday.
US_STOCK_CLOSED_WINDOWS: tuple[tuple[int, int], ...] = (
    (week_offset(0, 0), week_offset(0, 13, 30)),
    *((week_offset(d, 20), week_offset(d + 1, 13, 30)) for d in range(4)),
    (week_offset(4, 20), WEEK + week_offset(0, 13, 30)),
)


def _normalise(windows: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    pieces: list[tuple[int, int]] = []
    for start, end in windows:
        if not 0 <= start < WEEK or not start < end <= start + WEEK:
            raise ValueError(f"closed window {(start, end)} must satisfy 0 <= start < {WEEK}, start < end")
        if end > WEEK:
            pieces += [(start, WEEK), (0, end - WEEK)]
        else:
            pieces.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pieces):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    if merged and merged[0] == (0, WEEK):
        raise ValueError("closed windows cover the whole week: the active would never open")
    return tuple(merged)


@dataclass(frozen=True, kw_only=True, slots=True)
class ActiveSpec:
    """One simulated active: identity, price process parameters, payout and schedule.

    ``volatility`` is the relative standard deviation of the price per
    square-root second (2e-5 is about 0.6 % a day); ``spread`` is ask - bid in
    price units; ``commission`` is in percent and the payout is
    ``100 - commission``. ``listed_at`` is the first second with a price.

    Example::

        ActiveSpec(id=9001, name="EURGBP-OTC", ticker="EURGBP-OTC", description="EUR/GBP (OTC)",
                   kind="forex", is_otc=True, base_price=0.85, volatility=2e-5, precision=6,
                   spread=0.00002, commission=12)

    Raises:
        ValueError: a field is out of range, or an OTC active has closed windows.
    """

    id: int
    name: str
    ticker: str
    description: str
    kind: str
    is_otc: bool
    base_price: float
    volatility: float
    precision: int
    spread: float
    commission: float
    expirations: tuple[int, ...] = (5, 10, 15, 30, 60, 120, 300)
    min_amount: float = 1
    max_amount: float = 20_000
    listed_at: int = LISTED_AT
    closed_windows: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.id <= 0:
            raise ValueError(f"active id must be positive, got {self.id}")
        if self.listed_at < 0:
            raise ValueError(f"listed_at must be a unix time >= 0, got {self.listed_at}")
        if self.kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {self.kind!r}")
        if not 0 <= self.precision <= 10:
            raise ValueError(f"precision must be 0..10, got {self.precision}")
        if not self.base_price > 0 or self.base_price * 10**self.precision > _MAX_SCALED_PRICE:
            raise ValueError(
                f"base_price must be positive with base_price * 10**precision <= {_MAX_SCALED_PRICE:g}"
            )
        if not self.volatility > 0 or self.spread < 0:
            raise ValueError("volatility must be positive and spread non-negative")
        if not 0 <= self.commission < 100:
            raise ValueError(f"commission must be in [0, 100), got {self.commission}")
        if not self.expirations or min(self.expirations) <= 0:
            raise ValueError("expirations must be a non-empty tuple of positive seconds")
        if self.is_otc and self.closed_windows:
            raise ValueError("an OTC active trades around the clock and cannot have closed windows")
        object.__setattr__(self, "closed_windows", _normalise(self.closed_windows))

    @property
    def payout(self) -> float:
        """The profit on a win, in percent of the stake (``100 - commission``)."""
        return 100 - self.commission

    @property
    def always_open(self) -> bool:
        """Whether the active never closes (OTC, or no closed windows)."""
        return self.is_otc or not self.closed_windows


def _active(
    active_id: int,
    name: str,
    description: str,
    kind: str,
    prices: tuple[float, float, int, float],
    commission: float,
    closed_windows: tuple[tuple[int, int], ...] = (),
) -> ActiveSpec:
    base_price, volatility, precision, spread = prices
    return ActiveSpec(
        id=active_id,
        name=name,
        ticker=name,
        description=description,
        kind=kind,
        is_otc=not closed_windows,
        base_price=base_price,
        volatility=volatility,
        precision=precision,
        spread=spread,
        commission=commission,
        closed_windows=closed_windows,
    )


#: The simulator's actives. Ids 1, 2, 31, 32, 76, 81, 85, 816, 1938 and 2276 match the real platform.
#: Prices are (base_price, volatility, precision, spread); an active with closed windows is not OTC.
DEFAULT_ACTIVES: tuple[ActiveSpec, ...] = (
    _active(76, "EURUSD-OTC", "EUR/USD (OTC)", "forex", (1.08, 2e-5, 6, 0.00002), 12),
    _active(81, "GBPUSD-OTC", "GBP/USD (OTC)", "forex", (1.27, 2.2e-5, 6, 0.00003), 14),
    _active(85, "USDJPY-OTC", "USD/JPY (OTC)", "forex", (151.5, 2e-5, 3, 0.004), 15),
    _active(1938, "AAPL-OTC", "Apple Inc. (OTC)", "stock", (230.0, 6e-5, 3, 0.02), 16),
    _active(1940, "TSLA-OTC", "Tesla Inc. (OTC)", "stock", (250.0, 9e-5, 3, 0.04), 18),
    _active(2276, "XRPUSD-OTC", "Ripple / US Dollar (OTC)", "crypto", (0.2467, 8e-5, 6, 0.00001), 20),
    _active(1, "EURUSD", "EUR/USD", "forex", (1.08, 2e-5, 6, 0.00002), 8, FOREX_CLOSED_WINDOWS),
    _active(2, "GBPUSD", "GBP/USD", "forex", (1.27, 2.2e-5, 6, 0.00003), 10, FOREX_CLOSED_WINDOWS),
    _active(7, "AUDCAD", "AUD/CAD", "forex", (0.91, 2e-5, 6, 0.00003), 13, FOREX_CLOSED_WINDOWS),
    _active(31, "AMZN", "Amazon.com Inc.", "stock", (185.0, 6e-5, 3, 0.02), 17, US_STOCK_CLOSED_WINDOWS),
    _active(32, "AAPL", "Apple Inc.", "stock", (230.0, 6e-5, 3, 0.02), 16, US_STOCK_CLOSED_WINDOWS),
    # Crypto trades around the clock, so the model counts it as OTC (never closed).
    _active(816, "BTCUSD", "Bitcoin / US Dollar", "crypto", (95_000.0, 5e-5, 2, 20.0), 20),
)


def _locate(spec: ActiveSpec, t: float) -> tuple[float, int] | None:
    """The start of ``t``'s week and the index of the closed window holding ``t``, if any."""
    offset = (t - _MONDAY) % WEEK
    for index, (start, end) in enumerate(spec.closed_windows):
        if start <= offset < end:
            return t - offset, index
    return None


def is_open(spec: ActiveSpec, t: float) -> bool:
    """Whether ``spec`` trades at unix time ``t`` (OTC actives always do).

    Example::

        is_open(find_active("EURUSD"), 1_770_238_800)   # a Wednesday 21:00 UTC: False
    """
    if spec.always_open:
        return True
    return _locate(spec, t) is None


def closure_start(spec: ActiveSpec, t: int) -> int:
    """The second at which the closure containing second ``t`` began.

    Example::

        closure_start(eurusd, saturday_noon)   # Friday 21:00 UTC

    Raises:
        ValueError: the active is open at ``t``.
    """
    found = _locate(spec, t)
    if spec.always_open or found is None:
        raise ValueError(f"{spec.name} is open at {t}")
    week_start, index = found
    windows = spec.closed_windows
    start = week_start + windows[index][0]
    # A closure that runs over Monday 00:00 is stored as two windows.
    if windows[index][0] == 0 and windows[-1][1] == WEEK:
        start = week_start - WEEK + windows[-1][0]
    return int(start)


def next_open(spec: ActiveSpec, t: int) -> int:
    """The first second at or after ``t`` at which ``spec`` is open.

    Example::

        next_open(eurusd, saturday_noon)   # Sunday 22:00 UTC
    """
    found = _locate(spec, t)
    if spec.always_open or found is None:
        return t
    week_start, index = found
    windows = spec.closed_windows
    end = week_start + windows[index][1]
    if windows[index][1] == WEEK and windows[0][0] == 0:
        end = week_start + WEEK + windows[0][1]
    return int(end)


def schedule(spec: ActiveSpec, start: float, end: float) -> list[list[int]]:
    """The open intervals ``[open, close)`` overlapping ``[start, end)``, merged, in order.

    Intervals are whole sessions, so the first may begin before ``start`` and
    the last end after ``end``. An active that never closes has no session
    bounds; it gets the single interval ``[floor(start), ceil(end)]``. This is
    the ``schedule`` field of an initialization-data active.

    Example::

        schedule(find_active("AMZN"), monday, monday + 86_400)   # [[monday 13:30, monday 20:00]]

    Raises:
        ValueError: ``start > end``.
    """
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    if start == end:
        return []
    if spec.always_open:
        return [[math.floor(start), math.ceil(end)]]
    # One extra week on each side: every week has a closure, so the sessions
    # overlapping [start, end) are complete within this span.
    first_week = math.floor((start - _MONDAY) / WEEK) - 1
    last_week = math.floor((end - _MONDAY) / WEEK) + 1
    sessions: list[list[int]] = []
    for week in range(first_week, last_week + 1):
        base = _MONDAY + week * WEEK
        cursor = 0
        for closed_from, closed_to in (*spec.closed_windows, (WEEK, WEEK)):
            if closed_from > cursor:
                if sessions and sessions[-1][1] == base + cursor:
                    sessions[-1][1] = base + closed_from
                else:
                    sessions.append([base + cursor, base + closed_from])
            cursor = closed_to
    return [s for s in sessions if s[0] < end and s[1] > start]


def find_active(name_or_id: str | int) -> ActiveSpec | None:
    """The default active with this id or exact name (case-insensitive), or ``None``.

    A string of digits is read as an id.

    Example::

        find_active("eurusd-otc").id   # 76
        find_active("2276").name       # "XRPUSD-OTC"
    """
    if isinstance(name_or_id, str) and name_or_id.strip().isdigit():
        name_or_id = int(name_or_id)
    for spec in DEFAULT_ACTIVES:
        if isinstance(name_or_id, int):
            if spec.id == name_or_id:
                return spec
        elif spec.name.lower() == name_or_id.strip().lower():
            return spec
    return None
