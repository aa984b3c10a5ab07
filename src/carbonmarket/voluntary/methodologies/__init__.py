"""The CCER methodologies, one versioned module each with its data file (`data/<module>.toml`).

`get(code)` finds a methodology by its published code; `published()` lists them. A new version of
a methodology is a new module (`offshore_wind_v02.py`) registered here beside the old one, because
projects registered under V01 keep being credited under V01.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from carbonmarket.core.results import Code, Refused
from carbonmarket.voluntary.methodologies import (
    afforestation_v01,
    coal_mine_methane_v01,
    mangrove_v01,
    offshore_wind_v01,
    solar_thermal_v01,
    tunnel_lighting_v01,
)
from carbonmarket.voluntary.methodologies.base import (
    Calculation,
    MethodologyData,
    Period,
    Value,
    read_inputs,
)

_MODULES: tuple[ModuleType, ...] = (
    afforestation_v01,
    solar_thermal_v01,
    offshore_wind_v01,
    mangrove_v01,
    coal_mine_methane_v01,
    tunnel_lighting_v01,
)


@dataclass(frozen=True)
class Methodology:
    """A published methodology: its data and its rules."""

    module: ModuleType

    @property
    def data(self) -> MethodologyData:
        """The methodology's data file."""
        data: MethodologyData = self.module.data
        return data

    @property
    def code(self) -> str:
        """The published code, e.g. CCER-01-002-V01."""
        return self.data.code

    def read_project(self, raw: Mapping[str, object]) -> dict[str, Value]:
        """Parse the design document's parameters for this methodology."""
        return read_inputs(self.data.project_inputs, raw, f"{self.code} project parameters")

    def read_monitored(self, raw: Mapping[str, object]) -> dict[str, Value]:
        """Parse a monitoring report's parameters for this methodology."""
        return read_inputs(self.data.monitored_inputs, raw, f"{self.code} monitored parameters")

    def conditions(self, project: Mapping[str, Value]) -> list[str]:
        """The methodology's applicability conditions the project does not meet, in words."""
        unmet: list[str] = self.module.conditions(project)
        return unmet

    def calculate(
        self, project: Mapping[str, Value], monitored: Mapping[str, Value], period: Period
    ) -> Calculation:
        """ER = BE − PE − LE of one monitoring period."""
        calculation: Calculation = self.module.calculate(project, monitored, period)
        return calculation

    def describe(self) -> dict[str, Any]:
        """The methodology as the API and pages show it: inputs, constants and their sources."""
        data = self.data
        return {
            "code": data.code,
            "title": data.title,
            "field": data.field,
            "version": data.version,
            "energy": data.energy,
            "crediting_years_max": data.crediting_years_max,
            "networked_metering": data.networked_metering,
            "source": data.source,
            "project_inputs": [_spec(s) for s in data.project_inputs],
            "monitored_inputs": [_spec(s) for s in data.monitored_inputs],
            "constants": {
                name: {"value": str(c.value), "unit": c.unit, "tag": c.tag, "source": c.source}
                for name, c in data.constants.items()
            },
        }


def _spec(spec: Any) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "unit": spec.unit,
        "description": spec.description,
        "required": spec.required,
        "choices": list(spec.choices),
    }


_BY_CODE = {module.data.code: Methodology(module) for module in _MODULES}
FIELDS = tuple(sorted({m.data.field for m in _BY_CODE.values()}))


def published() -> list[Methodology]:
    """The published methodologies, in the order the MEE released them."""
    return [Methodology(module) for module in _MODULES]


def get(code: str) -> Methodology:
    """The methodology of a published code, or a refusal naming the known ones."""
    found = _BY_CODE.get(code.strip().upper() if isinstance(code, str) else "")
    if found is None:
        raise Refused(
            Code.CCER_METHODOLOGY_NOT_FOUND,
            f"no published methodology {code!r}; known: {', '.join(_BY_CODE)}",
        )
    return found


__all__ = ["FIELDS", "Calculation", "Methodology", "Period", "Value", "get", "published"]
