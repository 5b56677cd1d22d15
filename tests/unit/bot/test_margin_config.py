"""A run configuration's ``[margin]`` table: present, the run trades margin under these limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from iqwire.bot.loader import load_config
from iqwire.bot.margin import MarginLimits


def test_a_margin_table_gives_the_run_margin_limits(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[margin]\nmax_open = 2\nmin_margin_level = 150\n", encoding="utf-8")
    assert load_config(config).margin == MarginLimits(max_open=2, min_margin_level=150)

    config.write_text("[risk]\nmax_stake = 5\n", encoding="utf-8")
    assert load_config(config).margin is None  # no table: ctx.order raises InvalidOrder

    config.write_text("[margin]\n", encoding="utf-8")
    assert load_config(config).margin == MarginLimits()  # margin on, every guard off

    config.write_text("[margin]\nmax_lots = 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown margin setting"):
        load_config(config)
