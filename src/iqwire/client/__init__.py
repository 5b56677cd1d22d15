"""The asyncio client (:class:`Client`) and its parts."""

from iqwire.client.client import Client
from iqwire.client.clock import ServerClock
from iqwire.client.state import ConnectionState
from iqwire.client.streams import Stream

__all__ = ["Client", "ConnectionState", "ServerClock", "Stream"]
