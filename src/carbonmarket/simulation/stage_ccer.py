"""The CCER stage: the market's offset projects, issued into their owners' holding accounts through
`Voluntary` only.

Which credits a year can use decides the path (DOMAIN.md §4 [reg]): for compliance years settled by
31 Dec 2024 the offsets were the old registry's CCERs (projects registered before 14 March 2017), so
those projects are recorded as legacy and their carried-over holdings issued; later years need credits
of the 2023 Measures, so each project goes the whole way — design document, validation, 20 working
days of publicity, registration, a monitoring report for the compliance year, verification by another
body, publicity, registration of the reductions, issuance (V Art. 12–19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from carbonmarket.core.actors import Actor, Permission, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.registry.postings import holding_account
from carbonmarket.simulation.spec import Market, Project, Scenario, ScenarioError, StageProgress
from carbonmarket.simulation.stage_allocation import accepted
from carbonmarket.voluntary import methodologies
from carbonmarket.voluntary.methodologies.base import Period
from carbonmarket.voluntary.service import Voluntary

REGULATOR = Actor("mee", Role.REGULATOR)
VALIDATOR = Actor("sim-validator", Role.VVB)
VERIFIER = Actor("sim-verifier", Role.VVB)
BODIES = (("VVB-SIM-A", VALIDATOR.username), ("VVB-SIM-B", VERIFIER.username))
# The old registry's offsets were usable for compliance until 31 Dec 2024 (DOMAIN.md §4 [reg]).
legacy_last_surrender_year = 2024
# Days a publicity window of 20 working days takes, with a margin for holidays (V Art. 12, 19 [reg]).
publicity_days = 35
DOCUMENT_SHA = "5e" * 32

# A synthetic design per methodology: what the project's document states and one year's monitoring,
# sized to the reductions the generator asked for by scaling the extensive quantities named in
# `scaled` (the claim is still the methodology's own calculation). Templates as in the methodology
# tests (tests/integration/voluntary/ccer_market.py); crediting years per DOMAIN.md §6 [reg]/[?].
DESIGNS: dict[str, dict[str, Any]] = {
    "CCER-01-002-V01": {
        "sector": "renewable_power",
        "years": 10,
        "parameters": {
            "grid_region": "East",
            "distance_offshore_km": 35,
            "water_depth_m": 20,
            "capacity_mw": 500,
        },
        "monitored": {"eg_export_mwh": "1234567.8", "eg_import_mwh": "1234.5"},
        "scaled": ("eg_export_mwh", "eg_import_mwh"),
    },
    "CCER-01-001-V01": {
        "sector": "renewable_power",
        "years": 10,
        "parameters": {"grid_region": "Northwest", "capacity_mw": 100, "backup_share": "0.05"},
        "monitored": {"eg_export_mwh": 200000, "eg_import_mwh": 5000, "fc_natural_gas_10k_nm3": 21},
        "scaled": ("eg_export_mwh", "eg_import_mwh", "fc_natural_gas_10k_nm3"),
    },
    "CCER-14-001-V01": {
        "sector": "forestry",
        "years": 40,
        "parameters": {"species": "chinese_fir", "area_ha": 1000, "previous_land_use": "barren"},
        "monitored": {"stock_volume_start_m3": 30000, "stock_volume_end_m3": 42000},
        "scaled": ("area_ha", "stock_volume_start_m3", "stock_volume_end_m3"),
    },
    "CCER-14-002-V01": {
        "sector": "forestry",
        "years": 40,
        "parameters": {"area_ha": 100, "intertidal": True, "previous_land_use": "mudflat"},
        "monitored": {"agb_start_t_per_ha": 20, "agb_end_t_per_ha": 35},
        "scaled": ("area_ha",),
    },
    "CCER-10-001-V01": {
        "sector": "coal_mining",
        "years": 10,
        "parameters": {"grid_region": "North", "ch4_concentration_pct": "0.6", "networked_metering": True},
        "monitored": {
            "ch4_volume_m3": 10000000,
            "destruction_efficiency": "0.98",
            "electricity_consumed_mwh": 2000,
        },
        "scaled": ("ch4_volume_m3", "electricity_consumed_mwh"),
    },
    "CCER-07-001-V01": {
        "sector": "transport",
        "years": 10,
        "parameters": {
            "grid_region": "East",
            "road_class": "expressway",
            "baseline_power_kw": 500,
            "tunnel_length_km": 3,
        },
        "monitored": {"operating_hours": 8760, "ec_project_mwh": "1752.5"},
        "scaled": ("baseline_power_kw", "tunnel_length_km", "ec_project_mwh"),
    },
}


@dataclass(frozen=True)
class CcerLevers:
    regime: str  # "legacy" or "new"


def read_levers(scenario: Scenario, year: int) -> CcerLevers:
    """`[ccer] regime`: "auto" (default: legacy while the old credits were usable), "legacy" or "new"."""
    regime = scenario.section("ccer").get("regime", "auto")
    if regime not in ("auto", "legacy", "new"):
        raise ScenarioError('[ccer] regime must be "auto", "legacy" or "new"')
    if regime == "auto":
        regime = "legacy" if year + 1 <= legacy_last_surrender_year else "new"
    return CcerLevers(regime)


def run_ccer(engine: Engine, market: Market, scenario: Scenario, progress: StageProgress) -> dict[str, str]:
    """Issue each project's credits for the year; project id → CCER instrument id in `<owner>-H`."""
    levers = read_levers(scenario, market.year)
    clock = FixedClock(datetime(market.year + 1, 1, 5, 2, 0, tzinfo=UTC))
    service = Voluntary(engine, clock=clock)
    progress.start(f"CCER: {len(market.projects)} projects ({levers.regime})", max(len(market.projects), 1))
    _open_owners(service, market.projects)
    if not market.projects:
        progress.advance()
        return {}
    if levers.regime == "legacy":
        return _issue_legacy(service, market, progress)
    return _issue_new(service, clock, market, progress)


def _open_owners(service: Voluntary, projects: tuple[Project, ...]) -> None:
    owners: dict[str, str] = {}
    for project in projects:
        owners.setdefault(project.owner_id, project.owner_name)  # an owner goes by its first project's name
    for owner_id, name in sorted(owners.items()):
        accepted(service.open_owner(REGULATOR, owner_id, name), f"opening owner {owner_id}")


def _issue_legacy(service: Voluntary, market: Market, progress: StageProgress) -> dict[str, str]:
    issued = {}
    vintage = min(market.year - 1, 2016)  # old-registry holdings: credits of the old projects' years
    for project in market.projects:
        design = _design(project)
        accepted(
            service.record_legacy_project(
                REGULATOR,
                project.project_id,
                name=f"{project.owner_name} project {project.project_id}",
                owner_id=project.owner_id,
                methodology=project.methodology,
                sector=design["sector"],
                province=project.province,
                registered_on="2015-06-01",
                crediting_start="2013-01-01",
                crediting_end="2022-12-31",
            ),
            f"recording legacy project {project.project_id}",
        )
        data = accepted(
            service.issue_legacy(
                REGULATOR, f"{project.project_id}-legacy", project.project_id, vintage, project.reductions_t
            ),
            f"issuing legacy credits of {project.project_id}",
        )
        issued[project.project_id] = str(data["instrument"])
        progress.advance()
    return issued


def _issue_new(
    service: Voluntary, clock: FixedClock, market: Market, progress: StageProgress
) -> dict[str, str]:
    _bodies(service)
    year = market.year
    for project in market.projects:
        _register_design(service, project, year)
    clock.advance(timedelta(days=publicity_days))
    for project in market.projects:
        pid = project.project_id
        owner = _owner(project)
        accepted(service.apply_registration(owner, f"{pid}-apply", pid), f"applying to register {pid}")
        accepted(
            service.decide_registration(REGULATOR, f"{pid}-register", pid, approve=True, reason="complete"),
            f"registering {pid}",
        )
        _report(service, project, year)
    clock.advance(timedelta(days=publicity_days))
    issued = {}
    for project in market.projects:
        pid, report = project.project_id, f"{project.project_id}-R{year}"
        accepted(service.apply_report_registration(_owner(project), f"{report}-apply", report), "applying")
        accepted(
            service.decide_report(REGULATOR, f"{report}-register", report, approve=True, reason="verified"),
            f"registering the reductions of {pid}",
        )
        data = accepted(service.issue(REGULATOR, f"{report}-issue", report), f"issuing {pid}")
        issued[pid] = str(data["instrument"])
        progress.advance()
    return issued


def _bodies(service: Voluntary) -> None:
    for vvb, staff in BODIES:
        accepted(service.add_vvb(REGULATOR, vvb, f"Simulation body {vvb}"), f"adding {vvb}")
        for field in methodologies.FIELDS:
            accepted(service.accredit(REGULATOR, f"{vvb}-{field}", vvb, field), f"accrediting {vvb}")
        accepted(service.add_vvb_staff(REGULATOR, f"staff-{staff}", staff, vvb), f"staffing {vvb}")


def _register_design(service: Voluntary, project: Project, year: int) -> None:
    design, pid = _design(project), project.project_id
    accepted(
        service.submit_project(
            _owner(project),
            pid,
            name=f"{project.owner_name} project {pid}",
            owner_id=project.owner_id,
            methodology=_methodology(project),
            sector=design["sector"],
            province=project.province,
            construction_start=f"{year - 2}-03-01",
            operation_start=f"{year - 1}-12-01",
            crediting_start=f"{year}-01-01",
            crediting_end=f"{year + design['years'] - 1}-12-31",
            parameters=sized_design(project, year)[0],
            document_sha256=DOCUMENT_SHA,
            expected_annual_t=project.reductions_t,
        ),
        f"submitting {pid}",
    )
    accepted(
        service.validate(
            VALIDATOR,
            f"{pid}-validate",
            pid,
            report_sha256=DOCUMENT_SHA,
            opinion="positive",
            owner_commitment="true and complete",
            vvb_commitment="independent and true",
        ),
        f"validating {pid}",
    )
    accepted(service.disclose_project(_owner(project), f"{pid}-disclose", pid), f"disclosing {pid}")


def _report(service: Voluntary, project: Project, year: int) -> None:
    """The year's monitoring report, verified at the reductions asked for (never above the claim)."""
    report, owner = f"{project.project_id}-R{year}", _owner(project)
    submitted = accepted(
        service.submit_report(
            owner,
            report,
            project.project_id,
            period_start=f"{year}-01-01",
            period_end=f"{year}-12-31",
            inputs=sized_design(project, year)[1],
        ),
        f"reporting {project.project_id}",
    )
    verified = min(int(submitted["claimed_t"]), project.reductions_t)
    accepted(
        service.verify_report(
            VERIFIER, f"{report}-verify", report, verified_t=verified, report_sha256=DOCUMENT_SHA
        ),
        f"verifying {report}",
    )
    accepted(service.disclose_report(owner, f"{report}-disclose", report), f"disclosing {report}")


def _methodology(project: Project) -> str:
    if project.methodology not in DESIGNS:
        known = ", ".join(sorted(DESIGNS))
        raise ScenarioError(
            f"[ccer] project {project.project_id}: no design for {project.methodology} ({known})"
        )
    return project.methodology


def _design(project: Project) -> dict[str, Any]:
    return DESIGNS[_methodology(project)]


def sized_design(project: Project, year: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The project's parameters and the year's monitored values, scaled so the methodology's claim for
    the year is at least the reductions asked for (verification then takes exactly those)."""
    design = _design(project)
    method = methodologies.get(_methodology(project))
    period = Period(date(year, 1, 1), date(year, 12, 31))
    claim = method.calculate(
        method.read_project(design["parameters"]), method.read_monitored(design["monitored"]), period
    ).reduction_t
    factor = Decimal(project.reductions_t) / Decimal(max(claim, 1)) * Decimal("1.001")
    # A project is only as large as the methodology's bounds allow (a tunnel's lighting load is
    # small): the factor stops at the first input's maximum, and the claim is what it is.
    specs = {spec.name: spec for spec in (*method.data.project_inputs, *method.data.monitored_inputs)}
    values = {**design["parameters"], **design["monitored"]}
    for name in design["scaled"]:
        maximum = specs[name].maximum
        if maximum is not None:
            factor = min(factor, maximum / Decimal(str(values[name])))

    def scaled(values: dict[str, Any]) -> dict[str, Any]:
        return {
            k: str((Decimal(str(v)) * factor).quantize(Decimal("0.1"))) if k in design["scaled"] else v
            for k, v in values.items()
        }

    return scaled(design["parameters"]), scaled(design["monitored"])


def _owner(project: Project) -> Actor:
    return Actor(
        f"owner-{project.owner_id}".lower(),
        Role.PROJECT_OWNER,
        rights=frozenset({(holding_account(project.owner_id), Permission.INITIATE)}),
    )
