"""Finding a strategy class from ``module:Class`` or a file path, and run configuration."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iqwire.bot.margin import MarginLimits
from iqwire.bot.risk import RiskLimits
from iqwire.bot.strategy import Strategy

__all__ = ["RunConfig", "load_config", "load_strategy"]


def load_strategy(reference: str) -> type[Strategy]:
    """``"package.module:Class"``, ``"path/to/file.py:Class"`` or ``"path/to/file.py"``.

    A file with exactly one :class:`Strategy` subclass needs no class name.

    Raises:
        ValueError: the module, file or class cannot be found, or is not a Strategy.
    """
    target, _, class_name = reference.partition(":")
    if target.endswith(".py") or Path(target).is_file():
        path = Path(target)
        if not path.is_file():
            raise ValueError(f"no strategy file {target!r}")
        module_name = f"iqwire_strategy_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load {target!r}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise ValueError(f"cannot import strategy module {target!r}: {exc}") from exc
    if class_name:
        found = getattr(module, class_name, None)
        if not (inspect.isclass(found) and issubclass(found, Strategy)):
            raise ValueError(f"{reference!r} is not a Strategy subclass")
        return found
    candidates = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Strategy)
        and obj is not Strategy
        and obj.__module__ == module.__name__
    ]
    if len(candidates) != 1:
        names = ", ".join(c.__name__ for c in candidates) or "none"
        raise ValueError(f"{target!r} defines {len(candidates)} strategies ({names}); name one as FILE:Class")
    return candidates[0]


@dataclass
class RunConfig:
    """A run's settings from a TOML file; CLI flags override them.

    ::

        strategy = "examples/mean_reversion.py"
        balance = "demo"        # demo | tournament | real
        [params]
        period = 14
        [risk]
        max_stake = 50
        [margin]                # present: ctx.order / ctx.close trade margin (iqwire.bot.margin)
        max_open = 2
    """

    strategy: str | None = None
    balance: str = "demo"
    params: dict[str, Any] = field(default_factory=dict)
    risk: RiskLimits = field(default_factory=RiskLimits)
    margin: MarginLimits | None = None


def load_config(path: str | Path) -> RunConfig:
    """Read a run configuration.

    Raises:
        ValueError: an unknown key or a wrong value.
    """
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    known = {"strategy", "balance", "params", "risk", "margin"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown run setting(s): {', '.join(sorted(unknown))}")
    return RunConfig(
        strategy=data.get("strategy"),
        balance=str(data.get("balance", "demo")),
        params=dict(data.get("params", {})),
        risk=RiskLimits.from_mapping(dict(data.get("risk", {}))),
        margin=MarginLimits.from_mapping(dict(data["margin"])) if "margin" in data else None,
    )
