"""The payout cache: each active's commission per product, as last known.

Loaded from ``initialization-data`` and corrected by every 4117 (payout
changed) reply, so the next attempt is priced at the server's new commission.
"""

from __future__ import annotations

from iqwire.models import InitializationData

__all__ = ["Payouts"]


class Payouts:
    """Commissions (percent) by product (``"blitz"``, ``"turbo"``, ``"binary"``) and active.

    Example::

        payouts = Payouts()
        payouts.load(await client.get_initialization_data())
        print(payouts.payout(76))          # 100 - commission, for blitz
    """

    def __init__(self) -> None:
        self._commissions: dict[tuple[str, int], float] = {}
        self._loaded_from: InitializationData | None = None

    def load(self, init_data: InitializationData) -> None:
        """Take every commission of this initialization data (a no-op if it was loaded already)."""
        if init_data is self._loaded_from:
            return
        self._loaded_from = init_data
        for product in ("blitz", "turbo", "binary"):
            for active in getattr(init_data, product).all():
                self._commissions[(product, active.id)] = active.commission

    def commission(self, active_id: int, product: str = "blitz") -> float:
        """The commission of an active as last known.

        Raises:
            KeyError: the active is unknown for this product (load the initialization data first).
        """
        return self._commissions[(product, active_id)]

    def payout(self, active_id: int, product: str = "blitz") -> float:
        """The payout in percent: ``100 - commission``."""
        return 100 - self.commission(active_id, product)

    def set_commission(self, active_id: int, commission: float, product: str = "blitz") -> None:
        """Record an active's new commission (done on every 4117)."""
        self._commissions[(product, active_id)] = commission
