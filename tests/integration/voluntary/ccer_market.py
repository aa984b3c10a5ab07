"""Helpers of the voluntary market's tests: a market on the test database (central accounts, three
VVBs accredited in every field, two owners with their accounts) and a clock the tests move through
disclosure windows; one design document and monitoring report per methodology."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from carbonmarket.core.actors import LOCAL_OPERATOR, Actor, Permission, Role
from carbonmarket.core.clock import FixedClock
from carbonmarket.core.results import Code, Done, Outcome, Refusal
from carbonmarket.registry.service import Registry
from carbonmarket.voluntary import methodologies
from carbonmarket.voluntary.service import Voluntary

MEE = Actor("mee", Role.REGULATOR)
OWNER = Actor("owner1", Role.PROJECT_OWNER, rights=frozenset({("OWN1-H", Permission.INITIATE)}))
OTHER_OWNER = Actor("owner2", Role.PROJECT_OWNER, rights=frozenset({("OWN2-H", Permission.INITIATE)}))
VALIDATOR = Actor("val", Role.VVB)  # staff of VVB-A
VERIFIER = Actor("ver", Role.VVB)  # staff of VVB-B
SHA = "ab" * 32

# One design document and one monitoring report per methodology (the unit tests work the arithmetic).
EXAMPLES: dict[str, dict[str, Any]] = {
    "CCER-01-002-V01": {
        "sector": "renewable_power",
        "parameters": {
            "grid_region": "East",
            "distance_offshore_km": 35,
            "water_depth_m": 20,
            "capacity_mw": 500,
        },
        "monitored": {"eg_export_mwh": "1234567.8", "eg_import_mwh": "1234.5"},
        "years": 10,
    },
    "CCER-01-001-V01": {
        "sector": "renewable_power",
        "parameters": {"grid_region": "Northwest", "capacity_mw": 100, "backup_share": "0.05"},
        "monitored": {"eg_export_mwh": 200000, "eg_import_mwh": 5000, "fc_natural_gas_10k_nm3": 21},
        "years": 10,
    },
    "CCER-14-001-V01": {
        "sector": "forestry",
        "parameters": {"species": "chinese_fir", "area_ha": 1000, "previous_land_use": "barren"},
        "monitored": {"stock_volume_start_m3": 30000, "stock_volume_end_m3": 42000},
        "years": 40,
    },
    "CCER-14-002-V01": {
        "sector": "forestry",
        "parameters": {"area_ha": 100, "intertidal": True, "previous_land_use": "mudflat"},
        "monitored": {"agb_start_t_per_ha": 20, "agb_end_t_per_ha": 35},
        "years": 40,
    },
    "CCER-10-001-V01": {
        "sector": "coal_mining",
        "parameters": {"grid_region": "North", "ch4_concentration_pct": "0.6", "networked_metering": True},
        "monitored": {
            "ch4_volume_m3": 10000000,
            "destruction_efficiency": "0.98",
            "electricity_consumed_mwh": 2000,
        },
        "years": 10,
    },
    "CCER-07-001-V01": {
        "sector": "transport",
        "parameters": {
            "grid_region": "East",
            "road_class": "expressway",
            "baseline_power_kw": 500,
            "tunnel_length_km": 3,
        },
        "monitored": {"operating_hours": 8760, "ec_project_mwh": "1752.5"},
        "years": 10,
    },
}


def done(outcome: Outcome) -> dict[str, Any]:
    """The data of a success, failing the test with the refusal otherwise."""
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: Code) -> Refusal:
    """The refusal, checked to carry `code`."""
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome
    return outcome


@dataclass
class Market:
    """The services and clock of one test."""

    engine: Engine
    clock: FixedClock
    ccer: Voluntary
    registry: Registry

    def advance(self, days: int) -> None:
        """Move the clock forward by calendar days."""
        self.clock.advance(timedelta(days=days))

    def register_project(
        self, project_id: str, code: str = "CCER-01-002-V01", **overrides: Any
    ) -> dict[str, Any]:
        """Take a project from design document to registered (validation by VVB-A)."""
        example = EXAMPLES[code]
        fields: dict[str, Any] = {
            "name": f"Project {project_id}",
            "owner_id": "OWN1",
            "methodology": code,
            "sector": example["sector"],
            "province": "Jiangsu",
            "construction_start": "2022-03-01",
            "operation_start": "2023-12-01",
            "crediting_start": "2024-01-01",
            "crediting_end": f"{2024 + example['years'] - 1}-12-31",
            "parameters": example["parameters"],
            "document_sha256": SHA,
            "expected_annual_t": 100_000,
        } | overrides
        done(self.ccer.submit_project(OWNER, project_id, **fields))
        done(
            self.ccer.validate(
                VALIDATOR,
                f"{project_id}-val",
                project_id,
                report_sha256=SHA,
                opinion="positive",
                owner_commitment="true and complete",
                vvb_commitment="independent and true",
            )
        )
        done(self.ccer.disclose_project(OWNER, f"{project_id}-dis", project_id))
        self.advance(35)
        done(self.ccer.apply_registration(OWNER, f"{project_id}-app", project_id))
        return done(
            self.ccer.decide_registration(
                MEE, f"{project_id}-reg", project_id, approve=True, reason="complete"
            )
        )

    def register_report(
        self,
        project_id: str,
        report_id: str,
        start: str,
        end: str,
        monitored: dict[str, Any] | None = None,
        code: str = "CCER-01-002-V01",
        verified_t: int | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Take a monitoring report from submission to registered reductions (verified by VVB-B)."""
        submitted = done(
            self.ccer.submit_report(
                OWNER,
                report_id,
                project_id,
                period_start=start,
                period_end=end,
                inputs=monitored if monitored is not None else EXAMPLES[code]["monitored"],
                **kwargs,
            )
        )
        amount = submitted["claimed_t"] if verified_t is None else verified_t
        done(
            self.ccer.verify_report(
                VERIFIER, f"{report_id}-ver", report_id, verified_t=amount, report_sha256=SHA
            )
        )
        done(self.ccer.disclose_report(OWNER, f"{report_id}-dis", report_id))
        self.advance(35)
        done(self.ccer.apply_report_registration(OWNER, f"{report_id}-app", report_id))
        done(self.ccer.decide_report(MEE, f"{report_id}-reg", report_id, approve=True, reason="verified"))
        return submitted


START = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)  # Monday 2025-03-03 10:00 CST


def make_market(engine: Engine) -> Market:
    """A market over a database already set up by `set_up_market`, with its own clock at START."""
    clock = FixedClock(START)
    return Market(engine, clock, Voluntary(engine, clock=clock), Registry(engine, clock=clock))


def set_up_market(engine: Engine) -> None:
    """Central accounts, VVB-A, VVB-B and VVB-C accredited in every field, owners OWN1 and OWN2."""
    clock = FixedClock(START)
    registry = Registry(engine, clock=clock)
    registry.define_defaults(LOCAL_OPERATOR)  # CEA vintages and CNY, as `carbonmarket init` does
    done(registry.open_central_accounts(LOCAL_OPERATOR))
    ccer = Voluntary(engine, clock=clock)
    for vvb, staff in (("VVB-A", "val"), ("VVB-B", "ver"), ("VVB-C", "vc")):
        done(ccer.add_vvb(MEE, vvb, f"Body {vvb}"))
        for field in methodologies.FIELDS:
            done(ccer.accredit(MEE, f"{vvb}-{field}", vvb, field))
        done(ccer.add_vvb_staff(MEE, f"staff-{staff}", staff, vvb))
    done(ccer.open_owner(MEE, "OWN1", "Owner One Ltd"))
    done(ccer.open_owner(MEE, "OWN2", "Owner Two Ltd"))
