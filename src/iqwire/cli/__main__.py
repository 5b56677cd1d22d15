"""``python -m iqwire.cli``: the same as the ``iqwire`` command."""

from iqwire.cli.main import main

main()
