import sys

import iqwire.protocol


def test_protocol_core_imports_no_io_module() -> None:
    assert iqwire.protocol.Session is not None
    # The sans-I/O rule is checked in a fresh interpreter by test_sans_io.
    assert "iqwire.protocol" in sys.modules
