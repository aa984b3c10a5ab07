"""Each published CCER methodology against a hand-worked example, the arithmetic written out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from carbonmarket.core.results import Code, Refused
from carbonmarket.voluntary import methodologies
from carbonmarket.voluntary.methodologies import Period

YEAR_2024 = Period(date(2024, 1, 1), date(2024, 12, 31))
YEAR_2025 = Period(date(2025, 1, 1), date(2025, 12, 31))


def run(code: str, project: dict[str, object], monitored: dict[str, object], period: Period) -> int:
    m = methodologies.get(code)
    return m.calculate(m.read_project(project), m.read_monitored(monitored), period).reduction_t


def test_six_methodologies_are_published_with_their_codes() -> None:
    assert [m.code for m in methodologies.published()] == [
        "CCER-14-001-V01",
        "CCER-01-001-V01",
        "CCER-01-002-V01",
        "CCER-14-002-V01",
        "CCER-10-001-V01",
        "CCER-07-001-V01",
    ]


def test_offshore_wind_credits_net_export_times_combined_margin() -> None:
    # EG_PJ = 1,234,567.8 − 1,234.5 = 1,233,333.3 MWh; East 2023 (latest prior to 2024):
    # EF_CM = 0.5 × 0.5500 + 0.5 × 0.5500 = 0.55; BE = 1,233,333.3 × 0.55 = 678,333.315 t;
    # PE = LE = 0; floored once: 678,333 t.
    project = {"grid_region": "East", "distance_offshore_km": 35, "water_depth_m": 20, "capacity_mw": 500}
    monitored = {"eg_export_mwh": "1234567.8", "eg_import_mwh": "1234.5"}
    assert run("CCER-01-002-V01", project, monitored, YEAR_2024) == 678_333


def test_offshore_wind_refuses_a_near_shore_shallow_farm() -> None:
    m = methodologies.get("CCER-01-002-V01")
    project = m.read_project(
        {"grid_region": "East", "distance_offshore_km": 30, "water_depth_m": 30, "capacity_mw": 100}
    )
    assert "30 km offshore" in m.conditions(project)[0]


def test_solar_thermal_subtracts_backup_gas_burned() -> None:
    # EG_PJ = 200,000 − 5,000 = 195,000 MWh; Northwest 2023 EF_CM = 0.5543;
    # BE = 195,000 × 0.5543 = 108,088.5 t.
    # PE = 21 × 389.31 × 0.01532 × 0.99 × 44/12: 21 × 389.31 = 8,175.51 GJ; × 0.01532 = 125.2488132 tC;
    # × 0.99 = 123.996325068; × 44/12 = 454.653191916 t (DOMAIN-SOURCES vector 13: 454.65).
    # ER = 108,088.5 − 454.653191916 = 107,633.846808084 → 107,633 t.
    m = methodologies.get("CCER-01-001-V01")
    project = m.read_project({"grid_region": "Northwest", "capacity_mw": 100, "backup_share": "0.05"})
    monitored = m.read_monitored(
        {"eg_export_mwh": 200_000, "eg_import_mwh": 5_000, "fc_natural_gas_10k_nm3": 21}
    )
    calculation = m.calculate(project, monitored, YEAR_2024)
    assert calculation.baseline_t == Decimal("108088.5")
    assert round(calculation.project_t, 6) == Decimal("454.653192")
    assert calculation.reduction_t == 107_633


def test_afforestation_converts_stock_volume_growth_to_co2() -> None:
    # Chinese fir: ΔV = 42,000 − 30,000 = 12,000 m3; biomass = 12,000 × 0.307 × 1.634 × 1.246
    # = 3,684 × 1.634 × 1.246 = 6,019.656 × 1.246 = 7,500.491376 t d.m.;
    # carbon = × 0.47 = 3,525.23094672 tC; CO2 = × 44/12 = 12,925.84680464 t → 12,925 t.
    project = {"species": "chinese_fir", "area_ha": 1000, "previous_land_use": "barren"}
    monitored = {"stock_volume_start_m3": 30_000, "stock_volume_end_m3": 42_000}
    assert run("CCER-14-001-V01", project, monitored, YEAR_2025) == 12_925


def test_afforestation_refuses_land_that_was_forest() -> None:
    m = methodologies.get("CCER-14-001-V01")
    project = m.read_project({"species": "poplar", "area_ha": 10, "previous_land_use": "forest"})
    assert m.conditions(project)


def test_mangrove_adds_biomass_and_soil_carbon() -> None:
    # 100 ha, AGB 20 → 35 t/ha over 2025 (365 days): biomass carbon = 100 × 15 × 1.49 × 0.451
    # = 1,500 × 1.49 = 2,235 × 0.451 = 1,007.985 tC; soil = 100 × 1.62 × 365/365 = 162 tC;
    # (1,007.985 + 162) × 44/12 = 1,169.985 × 3.6667 = 4,289.945 t → 4,289 t.
    project = {"area_ha": 100, "intertidal": True, "previous_land_use": "mudflat"}
    monitored = {"agb_start_t_per_ha": 20, "agb_end_t_per_ha": 35}
    assert run("CCER-14-002-V01", project, monitored, YEAR_2025) == 4_289


def test_mangrove_requires_an_intertidal_site() -> None:
    m = methodologies.get("CCER-14-002-V01")
    project = m.read_project({"area_ha": 5, "intertidal": False, "previous_land_use": "mudflat"})
    assert "intertidal" in m.conditions(project)[0]


def test_coal_mine_methane_credits_methane_destroyed_less_oxidation_and_power() -> None:
    # CH4 destroyed = 10,000,000 m3 × 0.0007168 t/m3 × 0.98 = 7,168 × 0.98 = 7,024.64 t;
    # BE = 7,024.64 × 21 = 147,517.44 t; PE_oxidation = 7,024.64 × 44/16 = 19,317.76 t;
    # PE_power = 2,000 MWh × 0.6361 (North 2023) = 1,272.2 t;
    # ER = 147,517.44 − 19,317.76 − 1,272.2 = 126,927.48 → 126,927 t.
    project = {"grid_region": "North", "ch4_concentration_pct": "0.6", "networked_metering": True}
    monitored = {
        "ch4_volume_m3": 10_000_000,
        "destruction_efficiency": "0.98",
        "electricity_consumed_mwh": 2000,
    }
    assert run("CCER-10-001-V01", project, monitored, YEAR_2024) == 126_927


def test_coal_mine_methane_refuses_gas_of_eight_percent_or_more() -> None:
    m = methodologies.get("CCER-10-001-V01")
    project = m.read_project({"grid_region": "North", "ch4_concentration_pct": 8, "networked_metering": True})
    assert "< 8%" in m.conditions(project)[0]


def test_tunnel_lighting_credits_electricity_saved() -> None:
    # Baseline 500 kW × 8,760 h / 1000 = 4,380 MWh; project 1,752.5 MWh; East 0.55:
    # BE = 4,380 × 0.55 = 2,409 t; PE = 1,752.5 × 0.55 = 963.875 t; ER = 1,445.125 → 1,445 t.
    project = {
        "grid_region": "East",
        "road_class": "expressway",
        "baseline_power_kw": 500,
        "tunnel_length_km": 3,
    }
    monitored = {"operating_hours": 8760, "ec_project_mwh": "1752.5"}
    assert run("CCER-07-001-V01", project, monitored, YEAR_2025) == 1_445


def test_tunnel_lighting_refuses_more_hours_than_the_period_has() -> None:
    # January has 31 × 24 = 744 hours.
    with pytest.raises(Refused) as refused:
        run(
            "CCER-07-001-V01",
            {
                "grid_region": "East",
                "road_class": "expressway",
                "baseline_power_kw": 500,
                "tunnel_length_km": 3,
            },
            {"operating_hours": 745, "ec_project_mwh": 10},
            Period(date(2025, 1, 1), date(2025, 1, 31)),
        )
    assert refused.value.refusal.code is Code.CCER_METHODOLOGY_INPUT_INVALID


def test_negative_reductions_floor_at_zero() -> None:
    # More imported than exported: EG_PJ = 100 − 200 = −100 MWh → ER = −55 t → 0 t issued.
    project = {"grid_region": "East", "distance_offshore_km": 40, "water_depth_m": 10, "capacity_mw": 1}
    assert run("CCER-01-002-V01", project, {"eg_export_mwh": 100, "eg_import_mwh": 200}, YEAR_2024) == 0


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"eg_export_mwh": "-1", "eg_import_mwh": 0}, "below the minimum"),
        ({"eg_export_mwh": "NaN", "eg_import_mwh": 0}, "finite"),
        ({"eg_export_mwh": "lots", "eg_import_mwh": 0}, "not a number"),
        ({"eg_import_mwh": 0}, "required"),
        ({"eg_export_mwh": 1, "eg_import_mwh": 0, "sunshine": 3}, "unknown parameter"),
        ({"eg_export_mwh": "1e12", "eg_import_mwh": 0}, "above the maximum"),
    ],
)
def test_monitored_inputs_refuse_bad_values(raw: dict[str, object], words: str) -> None:
    with pytest.raises(Refused) as refused:
        methodologies.get("CCER-01-002-V01").read_monitored(raw)
    assert refused.value.refusal.code is Code.CCER_METHODOLOGY_INPUT_INVALID
    assert words in refused.value.refusal.message


def test_unknown_methodology_is_refused_with_the_known_codes() -> None:
    with pytest.raises(Refused) as refused:
        methodologies.get("CCER-99-001-V01")
    assert "CCER-01-002-V01" in refused.value.refusal.message


def test_grid_factor_of_a_year_before_any_publication_is_refused() -> None:
    m = methodologies.get("CCER-01-002-V01")
    project = m.read_project(
        {"grid_region": "East", "distance_offshore_km": 40, "water_depth_m": 10, "capacity_mw": 1}
    )
    with pytest.raises(Refused):
        m.calculate(
            project,
            m.read_monitored({"eg_export_mwh": 1, "eg_import_mwh": 0}),
            Period(date(2021, 1, 1), date(2021, 2, 1)),
        )
