"""How a trading product plugs into the simulator's engine.

A product is one module in ``sim/`` with one :class:`Product` subclass. It
declares the RPCs it answers (by name, or by name and version when versions
differ on the wire), the ``option_type_id`` values of ``binary-options.open-option``
it trades, its initialization-data groups and feature flags, and the work it does
at every step of simulated time (settlements, price pushes). The engine builds
every product in :data:`iqwire.sim.products.PRODUCTS` at start and routes to it;
adding a product is one new module and one line there.

Example::

    class Rainbow(Product):
        name = "rainbow"
        features = ("rainbow-instrument",)

        def handlers(self) -> dict[HandlerKey, Handler]:
            return {"rainbow.buy": self._buy}

        def step(self, t: float) -> None:
            self.host.publish(settle_rainbows(self.state.ledger, t))
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, ClassVar, Protocol

from iqwire.models import InstrumentGroup, OpenOptionRequest, Option, Position
from iqwire.models.binary import PositionState
from iqwire.sim.accounts import User
from iqwire.sim.hub import Connection, Hub
from iqwire.sim.ledger import LedgerEvent, Record
from iqwire.sim.state import SimState

__all__ = ["Handler", "HandlerKey", "OptionOpener", "Product", "ProductHost", "Reply", "position_state"]

#: A reply: ``(response name, payload)``, or several frames sent in order with the request's id.
Reply = tuple[str, Any] | list[tuple[str, Any]]
#: An RPC handler of a product: the caller, the decoded body, the time.
Handler = Callable[[User, Any, float], Reply]
#: ``"rpc-name"`` (any served version) or ``("rpc-name", "1.0")`` (that version only).
HandlerKey = str | tuple[str, str]
#: Opens one ``binary-options.open-option`` of the product's option types.
OptionOpener = Callable[[User, OpenOptionRequest, float], Option]


class ProductHost(Protocol):
    """What a product may use of the engine: the state, the hub, and pushing."""

    @property
    def state(self) -> SimState:
        """The platform's data."""

    @property
    def hub(self) -> Hub:
        """Connections and their subscriptions."""

    @property
    def now(self) -> float:
        """The engine's time (the last step, or the last frame received)."""

    def send(self, conn: Connection, data: bytes) -> None:
        """Send one frame to one connection."""

    def send_each(self, conns: Collection[Connection], frames: Sequence[bytes]) -> None:
        """Send the same frames, in order, to each of ``conns`` (a stream's fan-out)."""

    def publish(self, events: Iterable[LedgerEvent]) -> None:
        """Push what ledger events changed (balances, positions, orders) to their owners."""

    def push(self, name: str, payload: Any, fields: dict[str, Any], user: User | None = None) -> None:
        """Push to every subscription of ``name`` whose filters match ``fields`` (``user``: private)."""

    def push_legacy(self, name: str, payload: Any, user: User) -> None:
        """Push, unsubscribed, to the user's connections that speak the community client's dialect."""


class Product:
    """One trading product of the simulator (subclass it; see the module docstring)."""

    #: The product's name, also the ``product`` of its ledger records.
    name: ClassVar[str] = ""
    #: ``features.get-features`` names this product turns on.
    features: ClassVar[tuple[str, ...]] = ()

    def __init__(self, host: ProductHost) -> None:
        self.host = host
        self.state = host.state

    def handlers(self) -> dict[HandlerKey, Handler]:
        """The RPCs this product answers."""
        return {}

    def option_openers(self) -> dict[int, OptionOpener]:
        """``option_type_id`` → opener, for the ``binary-options.open-option`` it trades."""
        return {}

    def init_groups(self, now: float) -> dict[str, InstrumentGroup]:
        """Its groups of ``initialization-data`` (``"blitz"``, ``"turbo"``, …)."""
        return {}

    def step(self, t: float) -> None:
        """Everything due at simulated time ``t`` (called at every step, in order of time)."""

    def sale_price(self, record: Record, now: float) -> float | None:
        """What selling or closing one of its open positions would pay now (``None``: not now)."""
        return None

    def value(self, record: Record, now: float) -> PositionState | None:
        """One of its open positions as ``positions-state`` shows it now (``None``: not valued)."""
        amount = self.sale_price(record, now)
        if amount is None:
            return None
        price = self.state.price_at(record.position.active_id or 0, now)
        return position_state(record.position, amount, price, now)


def position_state(position: Position, amount: float, price: float | None, now: float) -> PositionState:
    """A ``positions-state`` entry: ``sell_profit`` = ``amount`` (what a sale or close pays now)."""
    pnl = round(amount - (position.amount or 0.0), 2)
    return PositionState(
        id=position.id,
        instrument_type=position.instrument_type,
        sell_profit=amount,
        current_price=price,
        quote_timestamp=int(now * 1000),
        pnl=pnl,
        pnl_net=pnl,
        open_price=position.open_quote,
        expected_profit=position.expected_profit,
        margin=0.0,
        currency_conversion=1.0,
    )
