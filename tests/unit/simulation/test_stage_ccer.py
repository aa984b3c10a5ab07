"""The CCER stage's project designs: each methodology's claim for the year reaches the reductions the
generator asked for, within the methodology's own input bounds."""

from __future__ import annotations

from datetime import date

import pytest

from carbonmarket.simulation.spec import Project, ScenarioError
from carbonmarket.simulation.stage_ccer import DESIGNS, sized_design
from carbonmarket.voluntary import methodologies
from carbonmarket.voluntary.methodologies.base import Period


def _claim(code: str, reductions: int) -> tuple[int, list[str]]:
    parameters, monitored = sized_design(Project("P1", "P-1", "Owner", code, "Jiangsu", reductions), 2024)
    method = methodologies.get(code)
    project = method.read_project(parameters)
    period = Period(date(2024, 1, 1), date(2024, 12, 31))
    return method.calculate(project, method.read_monitored(monitored), period).reduction_t, method.conditions(
        project
    )


@pytest.mark.parametrize("code", sorted(set(DESIGNS) - {"CCER-07-001-V01"}))
def test_every_design_claims_at_least_the_reductions_asked_for_and_meets_its_conditions(code: str) -> None:
    for reductions in (50_000, 700_000, 1_500_000):
        claim, unmet = _claim(code, reductions)
        assert reductions <= claim <= reductions * 1.01
        assert unmet == []


def test_a_design_stops_at_its_methodology_s_bounds() -> None:
    # Tunnel lighting saves little: the lighting load reaches its maximum long before 700,000 t.
    claim, unmet = _claim("CCER-07-001-V01", 700_000)
    assert 0 < claim < 700_000 and unmet == []


def test_a_methodology_without_a_design_is_refused_naming_the_project() -> None:
    with pytest.raises(ScenarioError, match="project P1: no design for CCER-99-001-V01"):
        sized_design(Project("P1", "P-1", "Owner", "CCER-99-001-V01", "Jiangsu", 1_000), 2024)
