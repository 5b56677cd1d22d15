"""A bug in one handler answers with an error and keeps the connection (and server) up."""

from __future__ import annotations

from typing import Any

import pytest
from sim_wire import RawClient

from iqwire.sim import Simulator


async def test_a_failing_handler_answers_5000_and_the_connection_survives(
    sim: Simulator, raw: RawClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(sim.engine.handlers, "get-actives-index", broken)

    reply = await raw.request("get-actives-index", "1.0", {})

    assert reply["status"] == 5000
    assert "internal error" in reply["msg"]["message"]
    assert "handler of get-actives-index failed" in caplog.text
    profile = await raw.request("core.get-profile", "1.0", {})
    assert profile["status"] == 2000
