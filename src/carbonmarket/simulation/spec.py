"""The shared shapes of the simulator: the scenario (TOML, one section per stage), the generated
market, and what each stage hands to the next. Pure data: no database, no I/O beyond reading TOML.

Every number a scenario sets is an *input* (output levels, benchmark stringency, agent behaviour);
the outcomes (verified emissions, allocation, prices, volumes, compliance) come out of the run.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

SECTORS = ("power", "steel", "cement", "aluminium")


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with the key that is wrong."""


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: its name and its sections (`market`, `allocation`, `agents`, `ccer`,
    `trading`, `compliance`, `policy`, `published`), each read and validated by the stage that owns it."""

    name: str
    sections: dict[str, dict[str, Any]]
    source: str = ""

    def section(self, name: str) -> dict[str, Any]:
        """One section (empty when the scenario has none: the stage's defaults apply)."""
        value = self.sections.get(name, {})
        if not isinstance(value, dict):
            raise ScenarioError(f"[{name}] must be a table")
        return value

    def with_values(self, section: str, **values: Any) -> Scenario:
        """A copy with some keys of one section replaced (a lever moved)."""
        sections = {k: dict(v) for k, v in self.sections.items()}
        sections.setdefault(section, {}).update(values)
        return Scenario(self.name, sections, self.source)


def packaged_scenarios() -> list[str]:
    """The names of the scenarios shipped with the package (`simulation/scenarios/*.toml`)."""
    folder = resources.files("carbonmarket.simulation").joinpath("scenarios")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    """A packaged scenario by name (`cn-2023`, `demo`) or a TOML file by path."""
    path = Path(name_or_path)
    folder = resources.files("carbonmarket.simulation").joinpath("scenarios")
    if path.is_file():
        return parse_scenario(path.read_text(encoding="utf-8"), path.stem, str(path))
    # A bare file name of a packaged scenario ("whatif-paid-share.toml") names the packaged one.
    packaged_name = path.name.removesuffix(".toml") if path.parent == Path(".") else ""
    packaged = folder.joinpath(f"{packaged_name}.toml")
    if path.suffix == ".toml" and not (packaged_name and packaged.is_file()):
        raise ScenarioError(f"no scenario file {name_or_path!r}")
    name_or_path = packaged_name or name_or_path
    if not packaged.is_file():
        known = ", ".join(packaged_scenarios())
        raise ScenarioError(f"unknown scenario {name_or_path!r}: packaged ones are {known}")
    return parse_scenario(packaged.read_text(encoding="utf-8"), name_or_path, f"packaged:{name_or_path}")


def parse_scenario(text: str, default_name: str, source: str = "") -> Scenario:
    """Parse TOML text into a scenario; every top-level value must be a table (a section)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"the scenario is not valid TOML: {error}") from error
    name = document.pop("name", default_name)
    document.pop("description", None)
    if not isinstance(name, str) or not name:
        raise ScenarioError("name must be a non-empty string")
    for key, value in document.items():
        if not isinstance(value, dict):
            raise ScenarioError(f"{key!r} must be a section ([{key}])")
    return Scenario(name, document, source)


@dataclass(frozen=True)
class Unit:
    """A facility: a power unit (fuel, rated MW) or an industrial process line (line type)."""

    facility_id: str
    fuel: str | None = None
    capacity_mw: int | None = None
    line_type: str | None = None
    # Annual activity the generator aims at: MWh generated (power) or t of product (industry).
    output: int = 0


@dataclass(frozen=True)
class Traits:
    """An entity's behaviour as an agent (drawn by the generator, used by the trading stage)."""

    strategy: str  # "complier" | "seller" | "hoarder" | "late" | "defaulter"
    mac_cny_per_t: float  # marginal abatement cost at the full within-year potential
    abatement_share: float  # share of emissions abatable within the year at that cost
    liquidity: float  # share of a surplus the entity is willing to sell
    uses_ccer: bool  # whether it buys CCER to offset (≤ the 5% limit)


@dataclass(frozen=True)
class Entity:
    entity_id: str
    name: str
    sector: str
    province: str
    units: tuple[Unit, ...]
    traits: Traits


@dataclass(frozen=True)
class Project:
    """A CCER project and the reductions it is issued for the year."""

    project_id: str
    owner_id: str
    owner_name: str
    methodology: str
    province: str
    reductions_t: int


@dataclass(frozen=True)
class Market:
    """The generated national market for one compliance year."""

    year: int
    seed: int
    entities: tuple[Entity, ...]
    projects: tuple[Project, ...] = ()
    institutions: tuple[str, ...] = ()  # financial institutions' holder ids

    def by_id(self) -> dict[str, Entity]:
        return {e.entity_id: e for e in self.entities}


@dataclass
class StageTimes:
    """Seconds per stage, in the order run."""

    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MrvYear:
    """What the MRV stage hands on: reported and verified emissions per entity (t CO2e)."""

    reported: dict[str, int]
    verified: dict[str, int]
    records: int  # monthly records stored
    warnings: int  # validation findings kept on stored records


@dataclass(frozen=True)
class Position:
    """An entity's compliance position before trading: allocation, verified emissions, CCER need."""

    entity_id: str
    allocated: int
    verified: int
    banked: int = 0  # allowances of earlier vintages held in `<entity>-H`, usable for this year

    @property
    def holdings(self) -> int:
        """What the entity holds towards this year before trading: its allocation and its bank."""
        return self.allocated + self.banked


@dataclass(frozen=True)
class TradingYear:
    """What the trading stage hands on (all figures read back from the exchange's records)."""

    trading_days: int
    volume_t: dict[str, int]  # by modality: "listed", "bulk", "bidding"
    value_fen: dict[str, int]
    closes_fen: list[tuple[str, int]]  # (ISO date, close in fen/t) for each trading day
    ccer_bought: dict[str, int]  # entity id → CCER tonnes bought (held in its -H account)
    traders: int  # distinct account holders that traded


class StageProgress:
    """How a stage reports progress: the orchestrator passes a Rich-backed one, tests this silent one."""

    def start(self, description: str, total: int) -> None:
        """A new bar (or phase) of `total` steps."""

    def advance(self, steps: int = 1) -> None:
        """`steps` more done on the current bar."""
