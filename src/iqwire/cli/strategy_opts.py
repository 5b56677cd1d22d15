"""What the strategy commands share (``bot run``, ``backtest``): naming a strategy and its parameters.

A strategy is named ``package.module:Class`` or by a file (``examples/mean_reversion.py``,
``file.py:Class``). Its parameters are its defaults, then the run file's ``[params]``
(``--config run.toml``), then each ``--param key=value`` (values read as int, float,
``true``/``false`` or text; an int becomes a float where the default is a float).
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from iqwire.bot.loader import RunConfig, load_config, load_strategy
from iqwire.bot.strategy import Strategy
from iqwire.bot.sweep import coerce_params, parse_assignment, parse_value
from iqwire.cli.common import EXIT_USAGE, fail

__all__ = [
    "ConfigOpt",
    "LoadedStrategy",
    "ParamOpt",
    "StrategyArg",
    "load_strategy_args",
    "params_text",
    "parse_params",
]

_STRATEGY_HELP = (
    "The strategy: package.module:Class, path/to/file.py or file.py:Class (default: the config's)."
)

StrategyArg = Annotated[str | None, typer.Argument(help=_STRATEGY_HELP, show_default=False)]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="A run file (TOML): strategy, balance, and params and risk tables.",
        show_default=False,
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A strategy parameter, key=value (repeatable; overrides the config).",
        show_default=False,
    ),
]


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``["period=10", "low=25.5"]`` → ``{"period": 10, "low": 25.5}``.

    Raises:
        ValueError: an item without ``=``.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, raw = parse_assignment(item)
        params[key] = parse_value(raw)
    return params


@dataclass
class LoadedStrategy:
    """A strategy class as the command line named it, with its merged parameters and run file."""

    reference: str
    cls: type[Strategy]
    params: dict[str, Any]
    config: RunConfig

    @property
    def file(self) -> str | None:
        """The strategy's source file, as tracebacks name it (``None`` when it has none)."""
        try:
            return inspect.getsourcefile(self.cls)
        except TypeError:
            return None


def _read_config(path: Path | None) -> RunConfig:
    if path is None:
        return RunConfig()
    try:
        return load_config(path)
    except (OSError, ValueError, TypeError, tomllib.TOMLDecodeError) as exc:
        fail(f"cannot use the run file {path}: {exc}", EXIT_USAGE)


def _config_relative(reference: str, config_path: Path | None) -> str:
    """A file reference from the run file, found next to it when not from the current directory."""
    target, sep, class_name = reference.partition(":")
    if config_path is None or not target.endswith(".py") or Path(target).exists():
        return reference
    beside = config_path.parent / target
    return f"{beside}{sep}{class_name}" if beside.is_file() else reference


def load_strategy_args(
    strategy: str | None, config_path: Path | None, params: Sequence[str] | None
) -> LoadedStrategy:
    """The strategy, its run file and its parameters, or a usage error (exit 2) that says why."""
    config = _read_config(config_path)
    reference = strategy or (
        _config_relative(config.strategy, config_path) if config.strategy is not None else None
    )
    if reference is None:
        fail(
            "name a strategy (module:Class or a file), or set strategy = ... in the --config file", EXIT_USAGE
        )
    try:
        cls = load_strategy(reference)
    except (ValueError, ImportError, SyntaxError) as exc:
        fail(f"cannot load the strategy {reference!r}: {exc}", EXIT_USAGE)
    try:
        merged = coerce_params(cls, {**config.params, **parse_params(params or [])})
        cls(**merged)
    except (TypeError, ValueError) as exc:
        fail(f"{exc}; {cls.__name__} takes: {', '.join(sorted(cls.params)) or 'no parameters'}", EXIT_USAGE)
    return LoadedStrategy(reference, cls, merged, config)


def params_text(params: dict[str, Any]) -> str:
    """``period=14 low=30.0``: parameters as the run's header line shows them."""
    return " ".join(f"{key}={value}" for key, value in params.items())
