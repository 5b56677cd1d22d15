"""Incremental indicators and a rolling candle window for strategies.

Every indicator costs O(1) per :meth:`~Indicator.update`: nothing loops over the
history on a tick. ``update`` feeds a closed value and changes the state;
``preview`` answers "what would the indicator be if this value closed now" and
changes nothing, which is what a strategy wants for the forming candle (live
candles arrive several times per second before they close).

Example::

    window = CandleWindow(60)
    window.add("rsi", RSI(14))
    for candle in history:
        window.update(candle)
    window["rsi"].value          # RSI over the closed candles
    window.preview("rsi")        # ... including the forming candle's price
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from iqwire.models.market import Candle

__all__ = ["EMA", "RSI", "SMA", "Bollinger", "BollingerBands", "CandleWindow", "Indicator"]

T = TypeVar("T")
IndicatorT = TypeVar("IndicatorT", bound="Indicator[Any]")

#: Bollinger re-centres its shift when the window's mean is this many variances away (squared).
_RECENTRE = 1e4

#: Bollinger bands as ``(middle, upper, lower)``.
BollingerBands = tuple[float, float, float]


def _add(total: float, comp: float, x: float) -> tuple[float, float]:
    """Neumaier's compensated addition: ``total + comp`` carries the exact sum's low bits."""
    t = total + x
    if abs(total) >= abs(x):
        comp += (total - t) + x
    else:
        comp += (x - t) + total
    return t, comp


def _check_period(period: int, minimum: int = 1) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < minimum:
        raise ValueError(f"period must be an int >= {minimum}, not {period!r}")
    return period


class Indicator(ABC, Generic[T]):
    """An incremental indicator: ``update`` feeds a closed value, ``preview`` a forming one.

    ``value`` is ``None`` until ``ready`` (the indicator has seen enough values);
    ``count`` is the number of values fed with ``update``.

    Example::

        sma = SMA(3)
        for close in (1.0, 2.0, 3.0):
            sma.update(close)
        assert sma.value == 2.0 and sma.preview(6.0) == 11 / 3
        assert sma.value == 2.0      # preview changed nothing
    """

    def __init__(self, period: int) -> None:
        self.period = period
        #: The value after the last ``update``, or ``None`` while warming up (read it;
        #: ``update`` sets it). A plain attribute: strategies read it on every candle.
        self.value: T | None = None
        self.count = 0

    @property
    def ready(self) -> bool:
        """Whether the indicator has a value."""
        return self.value is not None

    @property
    def warmup(self) -> int:
        """How many closed values it needs before its first value (what a live run loads from history)."""
        return self.period

    def update(self, value: float) -> T | None:
        """Feed a closed value; return the new indicator value (``None`` until warm)."""
        result = self._next(float(value), commit=True)
        self.count += 1
        self.value = result
        return result

    def preview(self, value: float) -> T | None:
        """The value ``update(value)`` would return, without changing any state."""
        return self._next(float(value), commit=False)

    def reset(self) -> None:
        """Forget every value seen."""
        self.count = 0
        self.value = None
        self._reset()

    @abstractmethod
    def _next(self, value: float, *, commit: bool) -> T | None:
        """Compute the next value; store the new state only when ``commit``."""

    @abstractmethod
    def _reset(self) -> None:
        """Clear the subclass state."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.period}, value={self.value!r})"


class SMA(Indicator[float]):
    """Simple moving average of the last ``period`` values (compensated running sum).

    Example::

        sma = SMA(2)
        sma.update(1.0)          # None: warming up
        sma.update(3.0)          # 2.0
    """

    def __init__(self, period: int) -> None:
        super().__init__(_check_period(period))
        self._window: deque[float] = deque(maxlen=period)
        self._sum = 0.0
        self._comp = 0.0
        self._since_resync = 0

    def _next(self, value: float, *, commit: bool) -> float | None:
        window = self._window
        full = len(window) == self.period
        total, comp = _add(self._sum, self._comp, value)
        if full:
            total, comp = _add(total, comp, -window[0])
        result = (total + comp) / self.period if full or len(window) + 1 == self.period else None
        if commit:
            window.append(value)
            self._sum, self._comp = total, comp
            self._since_resync += 1
            if full and self._since_resync >= self.period:
                # Amortised O(1): re-add the window once per period so no error can build up.
                self._sum, self._comp = math.fsum(window), 0.0
                self._since_resync = 0
        return result

    def _reset(self) -> None:
        self._window.clear()
        self._sum = self._comp = 0.0
        self._since_resync = 0


class EMA(Indicator[float]):
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded by the SMA of the first ``period`` values.

    Example::

        ema = EMA(3)             # alpha 0.5
        for close in (1.0, 2.0, 3.0):
            ema.update(close)    # None, None, 2.0 (the seed)
        ema.update(6.0)          # 4.0
    """

    def __init__(self, period: int) -> None:
        super().__init__(_check_period(period))
        self.alpha = 2.0 / (period + 1)
        self._seed_sum = 0.0
        self._seed_comp = 0.0

    def _next(self, value: float, *, commit: bool) -> float | None:
        previous = self.value
        if previous is not None:
            return self.alpha * value + (1.0 - self.alpha) * previous  # no cancellation on big jumps
        total, comp = _add(self._seed_sum, self._seed_comp, value)
        if commit:
            self._seed_sum, self._seed_comp = total, comp
        return (total + comp) / self.period if self.count + 1 == self.period else None

    def _reset(self) -> None:
        self._seed_sum = self._seed_comp = 0.0


class RSI(Indicator[float]):
    """Relative strength index with Wilder's smoothing (0..100).

    The first average gain/loss is the simple mean of the first ``period``
    changes (so the first value needs ``period + 1`` inputs); afterwards
    ``avg = (avg * (period - 1) + change) / period``. A window without losses
    reads 100, one without any change 50.

    Example::

        rsi = RSI(14)
        for close in closes:
            rsi.update(close)
        if rsi.ready and rsi.value < 30:
            ...
    """

    def __init__(self, period: int = 14) -> None:
        super().__init__(_check_period(period))
        self._last: float | None = None
        self._gain = 0.0
        self._loss = 0.0

    @property
    def warmup(self) -> int:
        """``period`` changes need ``period + 1`` closes."""
        return self.period + 1

    def _next(self, value: float, *, commit: bool) -> float | None:
        last = self._last
        if last is None:
            if commit:
                self._last = value
            return None
        change = value - last
        gain = change if change > 0 else 0.0
        loss = -change if change < 0 else 0.0
        changes = self.count - 1  # changes seen before this one
        period = self.period
        if changes < period:
            avg_gain = self._gain + gain  # sums while seeding
            avg_loss = self._loss + loss
            if changes + 1 == period:
                avg_gain, avg_loss = avg_gain / period, avg_loss / period
                result: float | None = self._rsi(avg_gain, avg_loss)
            else:
                result = None
        else:
            avg_gain = (self._gain * (period - 1) + gain) / period
            avg_loss = (self._loss * (period - 1) + loss) / period
            result = self._rsi(avg_gain, avg_loss)
        if commit:
            self._last, self._gain, self._loss = value, avg_gain, avg_loss
        return result

    @staticmethod
    def _rsi(avg_gain: float, avg_loss: float) -> float:
        if avg_loss == 0.0:
            return 50.0 if avg_gain == 0.0 else 100.0
        return 100.0 * avg_gain / (avg_gain + avg_loss)

    def _reset(self) -> None:
        self._last = None
        self._gain = self._loss = 0.0


class Bollinger(Indicator[BollingerBands]):
    """Bollinger bands: SMA(``period``) ± ``k`` population standard deviations.

    The middle band is an :class:`SMA`; the variance comes from compensated
    running sums of ``x - shift`` and ``(x - shift)**2`` over a deque, with the
    shift re-centred on the mean once per ``period`` updates (amortised O(1)) and
    whenever a large move leaving the window would cancel digits, so tight forex
    ranges (1.0850 ± 0.0001) keep full precision.
    ``value`` is ``(middle, upper, lower)``.

    Example::

        bands = Bollinger(20, k=2.0)
        for close in closes:
            bands.update(close)
        middle, upper, lower = bands.value
    """

    def __init__(self, period: int = 20, k: float = 2.0) -> None:
        super().__init__(_check_period(period))
        self.k = float(k)
        self._middle = SMA(period)
        self._window: deque[float] = deque(maxlen=period)
        self._shift: float | None = None
        self._sum = self._sum_comp = 0.0
        self._sq = self._sq_comp = 0.0
        self._since_resync = 0
        self._std: float | None = None

    @property
    def std(self) -> float | None:
        """The population standard deviation of the window, or ``None`` while warming up."""
        return self._std

    def _next(self, value: float, *, commit: bool) -> BollingerBands | None:
        window = self._window
        full = len(window) == self.period
        middle = self._middle._next(value, commit=commit)
        shift = value if self._shift is None else self._shift
        d = value - shift
        s, sc = _add(self._sum, self._sum_comp, d)
        q, qc = _add(self._sq, self._sq_comp, d * d)
        if full:
            old = window[0] - shift
            s, sc = _add(s, sc, -old)
            q, qc = _add(q, qc, -(old * old))
        since = self._since_resync + 1
        std: float | None = None
        if middle is not None:
            n = self.period
            mean_d = (s + sc) / n
            variance = (q + qc) / n - mean_d * mean_d
            if mean_d * mean_d > _RECENTRE * max(variance, 0.0):
                # The shift is far from the window (a big move just left it): the
                # difference above cancelled. Re-centre now, exactly: O(period), rare.
                values = [*islice(window, 1 if full else 0, None), value]
                shift, s, q = self._centred(values)
                sc = qc = 0.0
                since = 0
                mean_d = s / n
                variance = q / n - mean_d * mean_d
            std = math.sqrt(max(variance, 0.0))
        if commit:
            self._std = std
            window.append(value)
            self._shift = shift
            self._sum, self._sum_comp, self._sq, self._sq_comp = s, sc, q, qc
            self._since_resync = since
            if full and since >= self.period:
                # Amortised O(1): re-centre once per period so the shift follows the prices.
                self._shift, self._sum, self._sq = self._centred(window)
                self._sum_comp = self._sq_comp = 0.0
                self._since_resync = 0
        if middle is None or std is None:
            return None
        width = self.k * std
        return (middle, middle + width, middle - width)

    @staticmethod
    def _centred(values: Iterable[float]) -> tuple[float, float, float]:
        """``(mean, sum(x - mean), sum((x - mean)**2))``, exactly rounded."""
        items = list(values)
        shift = math.fsum(items) / len(items)
        deltas = [x - shift for x in items]
        return shift, math.fsum(deltas), math.fsum(x * x for x in deltas)

    def _reset(self) -> None:
        self._middle.reset()
        self._window.clear()
        self._shift = None
        self._sum = self._sum_comp = self._sq = self._sq_comp = 0.0
        self._since_resync = 0
        self._std = None


def _feed_each(updates: tuple[Callable[[float], object], ...], close: float) -> None:
    """A close to several indicators, in the order they were added."""
    for update in updates:
        update(close)


class CandleWindow:
    """A rolling window of closed candles of one size, the forming candle and named indicators.

    :meth:`update` takes every candle push (or history candle) in order. A
    candle with a new ``start`` commits the previous forming one; a candle whose
    last tick reached its end (``at >= end * 1e9``, or a history candle without
    ``at``) is committed at once. Each committed candle's close feeds every
    attached indicator. Candles of another ``size`` (when the candle says), of
    another active than the first one seen, or older than the window are ignored.

    Example::

        window = CandleWindow(60, maxlen=500)
        sma = window.add("sma20", SMA(20))
        if window.update(candle):              # a candle closed
            print(window.last.close, window["sma20"].value)
        live = window.preview("sma20")         # including the forming price
        closes = window.closes(50)             # numpy array, oldest first
    """

    def __init__(self, size: int, maxlen: int = 500) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be >= 1, not {maxlen!r}")
        self.size = size
        self.maxlen = maxlen
        self.active_id: int | None = None
        # The backtest's replay (iqwire.bot.backtest._replay) commits a closed, in-order
        # candle itself: it reads _forming, _last_start and _feed and appends to _candles
        # and _closes as update() does, without a call per candle (a method for it cost
        # ~4 % of a backtest). Change one, change the other: test_backtest_fast_paths
        # holds the two to the same answers.
        self._candles: deque[Candle] = deque(maxlen=maxlen)
        self._closes: deque[float] = deque(maxlen=maxlen)
        self._forming: Candle | None = None
        #: The start of the newest closed candle (older or equal starts are ignored).
        self._last_start = -math.inf
        self._indicators: dict[str, Indicator[Any]] = {}
        # The indicators' bound ``update`` methods, built once in ``add``: a committed
        # close reaches each without a dict view or a method lookup per candle.
        self._updates: tuple[Callable[[float], object], ...] = ()
        # What a committed close is handed to: the one indicator's ``update`` itself (the
        # usual window: no loop per close), a loop over several, or nothing.
        self._feed: Callable[[float], object] | None = None

    # -- indicators ---------------------------------------------------------------------------------

    def add(self, name: str, indicator: IndicatorT) -> IndicatorT:
        """Attach an indicator under ``name`` and return it.

        It is first fed the closes already in the window (oldest first), so an
        indicator added late is warm at once if the window holds enough candles.
        """
        if name in self._indicators:
            raise ValueError(f"an indicator named {name!r} is already attached")
        for close in self._closes:
            indicator.update(close)
        self._indicators[name] = indicator
        updates = self._updates = (*self._updates, indicator.update)
        self._feed = updates[0] if len(updates) == 1 else partial(_feed_each, updates)
        return indicator

    def __getitem__(self, name: str) -> Indicator[Any]:
        return self._indicators[name]

    def __contains__(self, name: object) -> bool:
        return name in self._indicators

    @property
    def indicators(self) -> dict[str, Indicator[Any]]:
        """The attached indicators by name (a copy)."""
        return dict(self._indicators)

    def preview(self, name: str) -> Any:
        """Indicator ``name`` including the forming candle's close (its value if nothing is forming)."""
        indicator = self._indicators[name]
        forming = self._forming
        return indicator.value if forming is None else indicator.preview(forming.close)

    # -- candles ------------------------------------------------------------------------------------

    def update(self, candle: Candle) -> bool:
        """Take a candle; return ``True`` when at least one candle closed."""
        size = candle.size
        if size is not None and size != self.size:
            return False
        active_id = candle.active_id
        if active_id is not None and active_id != self.active_id:
            if self.active_id is not None:
                return False
            self.active_id = active_id
        start = candle.start
        if start <= self._last_start:
            return False  # already closed (a late duplicate) or out of order
        forming = self._forming
        closed = False
        if forming is not None:
            if start < forming.start:
                return False
            if start > forming.start:
                self._commit(forming)
                closed = True
        at = candle.at
        if at is None or at >= candle.end * 1_000_000_000:  # candle.is_closed, inlined
            # self._commit(candle), inlined: a closed candle is the backtest's every candle.
            self._candles.append(candle)
            self._last_start = start
            close = candle.close
            self._closes.append(close)
            feed = self._feed
            if feed is not None:
                feed(close)
            self._forming = None
            return True
        self._forming = candle
        return closed

    def _commit(self, candle: Candle) -> None:
        self._candles.append(candle)
        self._last_start = candle.start
        close = candle.close
        self._closes.append(close)
        feed = self._feed
        if feed is not None:
            feed(close)

    def closes(self, n: int | None = None, *, include_forming: bool = False) -> npt.NDArray[np.float64]:
        """The last ``n`` closes (all when ``None``), oldest first; fewer when the window is shorter."""
        forming = self._forming if include_forming else None
        closes = self._closes
        want = len(closes) + (forming is not None) if n is None else max(0, n)
        count = min(want - (forming is not None and want > 0), len(closes))
        values = np.fromiter(islice(reversed(closes), count), dtype=np.float64, count=count)[::-1].copy()
        if forming is not None and want > 0:
            values = np.append(values, forming.close)
        return values

    @property
    def last(self) -> Candle | None:
        """The newest closed candle."""
        return self._candles[-1] if self._candles else None

    @property
    def forming(self) -> Candle | None:
        """The candle still forming (not closed yet), if any."""
        return self._forming

    @property
    def candles(self) -> list[Candle]:
        """The closed candles, oldest first (a copy)."""
        return list(self._candles)

    def __len__(self) -> int:
        return len(self._candles)

    def __iter__(self) -> Iterator[Candle]:
        return iter(self._candles)

    def __repr__(self) -> str:
        return f"CandleWindow(size={self.size}, closed={len(self)}, forming={self._forming is not None})"
