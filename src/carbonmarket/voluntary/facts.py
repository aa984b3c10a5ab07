"""What compliance needs to know about a CCER instrument: the facts that decide whether it may offset.

A stable, read-only interface (docs/markets-contract.md): `credit_facts(connection, instrument_id)`
reads the voluntary market's tables on the caller's connection, so compliance can decide inside
its own surrender transaction. The rules themselves (registered before 2017-03-14 usable only
until 2024-12-31, not from covered sectors, the 5% cap) are compliance's; this module only states
the facts: which project, methodology, sector, when registered, which reductions the instrument
carries and whether it was authorised for Article 6 transfers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection

from carbonmarket.voluntary import store
from carbonmarket.voluntary.sectors import sectors


@dataclass(frozen=True)
class CreditFacts:
    """The eligibility inputs of one CCER instrument (one project's credits of one vintage year).

    `registered_on` is the project's registration date; `reduction_start`/`reduction_end` span the
    monitoring periods whose reductions were issued into this instrument (`monitoring_periods`
    lists each); `field` is the methodology's sectoral field (energy, forestry, ...), `sector` the
    project's own sector; `in_mandatory_sector` says the sector is under mandatory ETS obligations
    (DOMAIN.md §6 [seed]: such credits are excluded from offsetting).
    """

    instrument_id: str
    project_id: str
    methodology: str
    sector: str
    field: str
    registered_on: date
    reduction_start: date
    reduction_end: date
    monitoring_periods: tuple[tuple[date, date], ...]
    article6_authorised: bool
    in_mandatory_sector: bool
    vintage: int
    legacy: bool = False

    @property
    def monitoring_period(self) -> str:
        """The monitoring period(s) as ISO-8601 intervals, e.g. `2024-01-01/2024-06-30`."""
        return ", ".join(f"{start.isoformat()}/{end.isoformat()}" for start, end in self.monitoring_periods)


def credit_facts(connection: Connection, instrument_id: str) -> CreditFacts | None:
    """The facts of a CCER instrument issued by the voluntary market, or None if it issued none."""
    periods = store.issuance_periods(connection, instrument_id)
    if not periods:
        return None
    project_ids = {row.project_id for row in periods}
    # An instrument id names one project (CCER-<PROJECT>-<YEAR>), so one issuance row set has one project.
    assert len(project_ids) == 1, f"{instrument_id}: issuances of several projects {sorted(project_ids)}"
    project = store.get_project(connection, periods[0].project_id)
    if project is None or project.registered_on is None:
        return None
    monitoring = tuple(
        (date.fromisoformat(r.period_start), date.fromisoformat(r.period_end)) for r in periods
    )
    return CreditFacts(
        instrument_id=instrument_id,
        project_id=project.id,
        methodology=project.methodology,
        sector=project.sector,
        field=project.field,
        registered_on=date.fromisoformat(project.registered_on),
        reduction_start=min(start for start, _ in monitoring),
        reduction_end=max(end for _, end in monitoring),
        monitoring_periods=monitoring,
        article6_authorised=bool(project.article6_authorised),
        in_mandatory_sector=sectors().is_covered(project.sector),
        vintage=int(instrument_id.rsplit("-", 1)[1]),
        legacy=bool(project.legacy),
    )
