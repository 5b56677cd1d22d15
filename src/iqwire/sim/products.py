"""The products the simulator trades: one module each, built by the engine in this order.

Add a product by writing its module (a :class:`iqwire.sim.product.Product`
subclass) and adding it here.
"""

from __future__ import annotations

from iqwire.sim.binary_options import BinaryOptions
from iqwire.sim.blitz import Blitz
from iqwire.sim.digital import Digital
from iqwire.sim.digital_community import DigitalCommunity
from iqwire.sim.margin import Margin
from iqwire.sim.product import Product

__all__ = ["PRODUCTS"]

PRODUCTS: tuple[type[Product], ...] = (Blitz, BinaryOptions, Digital, DigitalCommunity, Margin)
