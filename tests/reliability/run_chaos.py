#!/usr/bin/env python3
"""The chaos run: a bot trades one product while the simulator breaks everything it can.

Usage (the full size is ``make chaos``; ``make test`` runs small ones in test_chaos.py and
test_chaos_margin.py)::

    python tests/reliability/run_chaos.py options --calls 1000 --disconnects 200 --seed 1
    python tests/reliability/run_chaos.py margin --calls 500 --disconnects 100 --seed 1

(``--trades``/``--orders`` are the same as ``--calls``.) It prints one line, e.g.
``chaos: trades=N disconnects=D lost=0 doubled=0 ledger_match=yes seed=S``, then the
details, and exits 1 when a guarantee failed.

The runner, the same for every product, is ``run_chaos_runner.py``; each product is a
plug-in (``run_chaos_options.py``, ``run_chaos_margin.py``): how it places, how a server
record is matched back to its call, what its ledger is.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from run_chaos_margin import MarginProduct
from run_chaos_options import Options
from run_chaos_runner import Product, run

#: The products, by name: a new product object per run, and its default size.
PRODUCTS: dict[str, tuple[Callable[[], Product[Any]], int, int]] = {
    "options": (Options, 1000, 200),
    "margin": (MarginProduct, 500, 100),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("product", nargs="?", choices=sorted(PRODUCTS), default="options")
    parser.add_argument("--calls", "--trades", "--orders", dest="calls", type=int, default=None)
    parser.add_argument("--disconnects", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="log the client's and simulator's warnings")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.verbose:
        for handler in logging.getLogger().handlers:
            handler.setLevel(logging.CRITICAL)  # the fault counter still sees the warnings
    make, calls, disconnects = PRODUCTS[args.product]
    result = asyncio.run(
        run(
            make(),
            calls if args.calls is None else args.calls,
            disconnects if args.disconnects is None else args.disconnects,
            args.seed,
        )
    )
    print(result.line())
    print(result.details())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
