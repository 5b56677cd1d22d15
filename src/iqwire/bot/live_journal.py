"""A live run's journal: one bot per journal, the account's unsettled trades resumed, the run recorded.

Before the first trade of a live or paper run, :func:`start_journaled_run` claims the
journal (another bot on it gets :class:`~iqwire.bot.journal.JournalInUse`), settles the
journal's unsettled option and margin trades of this account against the server
(:func:`~iqwire.bot.recovery.recover`, :func:`~iqwire.bot.margin_recovery.recover_margin`:
never re-sent), rebuilds the risk guards from the journal so a restart never lifts a
limit (margin closes count in the day's P&L too), and records the run. The
:class:`JournaledRun` it returns holds the links the runner and the margin desk
journal through, and ends the run's row.

Example::

    run = await start_journaled_run(
        journal, client, strategy=strategy, mode="live", limits=limits,
        chosen=balance, guard=guard, recover=True,
    )
    runner = BotRunner(strategy, broker, guard, journal=run.options, ...)
    ...
    run.end(at=client.server_time(), end_balance=broker.balance())
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from iqwire.bot.journal import Journal, is_margin
from iqwire.bot.margin_recovery import MarginRecovery, recover_margin
from iqwire.bot.recovery import Recovery, rebuild_guard
from iqwire.bot.recovery import recover as recover_options
from iqwire.bot.risk import RiskGuard, RiskLimits
from iqwire.bot.runner import JournalLink
from iqwire.bot.strategy import Strategy
from iqwire.client import Client
from iqwire.models import Balance

__all__ = ["JournaledRun", "marginal_balance", "start_journaled_run"]


@dataclass
class JournaledRun:
    """One run's row in a journal and what its start found there."""

    journal: Journal
    run_id: int
    #: Where the run's option trades are journaled (the chosen balance).
    options: JournalLink
    #: Where its margin trades are journaled (the marginal balance of the chosen balance's type).
    margin: JournalLink
    #: The option trades an earlier run left unsettled, settled or to follow (``None``: not resumed).
    recovery: Recovery | None = None
    #: The same for margin trades (``None``: not resumed, or the account has no marginal balance).
    margin_recovery: MarginRecovery | None = None

    def end(self, *, at: float, end_balance: float | None) -> None:
        """Record the run's end (the journal stays claimed until released)."""
        self.journal.end_run(self.run_id, at=at, end_balance=end_balance)


async def start_journaled_run(
    journal: Journal,
    client: Client,
    *,
    strategy: Strategy,
    mode: str,
    limits: RiskLimits,
    chosen: Balance,
    guard: RiskGuard,
    recover: bool,
) -> JournaledRun:
    """Claim ``journal``, resume this account's unsettled trades (unless ``recover`` is false),
    rebuild ``guard`` from the journal, and start the run's row.

    ``recover=False``: the server knows none of the journal's trades (a fresh embedded
    simulator), so the run is an account of its own (its ids may repeat an earlier one's).

    Raises:
        JournalInUse: another bot runs on this journal.
    """
    account = f"{client.ws_url}|{await client.user_id()}"
    if not recover:
        account += f"|{uuid.uuid4().hex[:12]}"
    journal.claim()  # one bot per journal: JournalInUse when another one runs on it
    marginal = await marginal_balance(client, chosen)
    marginal_id = None if marginal is None else marginal.id
    recovery: Recovery | None = None
    margin_recovery: MarginRecovery | None = None
    if recover:
        recovery = await recover_options(journal, client, account=account, balance_id=chosen.id)
        if marginal_id is not None:  # an account without a marginal balance has no margin rows
            margin_recovery = await recover_margin(journal, client, account=account, balance_id=marginal_id)
        # Margin closes count in the day's P&L too (with or without a margin desk this run).
        trades = [
            t
            for t in journal.trades(account=account)
            if t.balance_id == chosen.id
            or (marginal_id is not None and is_margin(t.product) and t.balance_id == marginal_id)
        ]
        rebuild_guard(guard, trades, client.server_time())
    run_id = journal.start_run(
        mode=mode,
        account=account,
        at=client.server_time(),
        strategy=strategy.name,
        params=strategy.params,
        balance_id=chosen.id,
        balance_type=chosen.type.name.lower(),
        currency=chosen.currency,
        start_balance=chosen.amount,
        limits=dataclasses.asdict(limits),
    )
    return JournaledRun(
        journal,
        run_id,
        options=JournalLink(journal, run_id, chosen.id),
        margin=JournalLink(journal, run_id, marginal_id, product="marginal-forex", ref_kind="order"),
        recovery=recovery,
        margin_recovery=margin_recovery,
    )


async def marginal_balance(client: Client, chosen: Balance) -> Balance | None:
    """The marginal balance of the chosen balance's type (``None`` when the account has none)."""
    marginal = [b for b in await client.get_balances() if b.is_marginal and b.type == chosen.type]
    return marginal[0] if marginal else None
