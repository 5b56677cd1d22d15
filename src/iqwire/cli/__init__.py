"""The ``iqwire`` command line: a simulator server, account and market-data commands.

Example::

    $ iqwire sim --port 0                       # serve a local simulator
    $ iqwire balances --sim                     # a table of the demo account's balances
    $ iqwire candles show EURUSD-OTC --sim --count 5 --json
    $ iqwire stream eurusd-otc --sim --limit 3
"""

from iqwire.cli.main import app, main

__all__ = ["app", "main"]
