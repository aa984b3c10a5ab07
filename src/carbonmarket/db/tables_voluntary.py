"""Tables of the voluntary market (issue 6; migration 0010_voluntary): CCER methodologies and their
proposals, validation/verification bodies, projects and their life, monitoring reports, issuances,
cancellations, green-electricity-certificate claims, monitoring API keys and metered readings.

Dates of the market (construction start, crediting period, monitoring period, registration) are
ISO `YYYY-MM-DD` text; moments are ISO-8601 UTC text like everywhere else. History rows
(`ccer_events`, comments, readings) are append-only. The units themselves live in the registry:
an issuance row names the registry transaction and the serial block it created.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from carbonmarket.db.tables import BigId, metadata

_PROJECT_STATES = (
    "'draft', 'validated', 'in_disclosure', 'registration_applied', 'registered', 'rejected', 'withdrawn'"
)
_REPORT_STATES = (
    "'submitted', 'verified', 'in_disclosure', 'registration_applied', 'registered', 'issued', 'rejected'"
)
_PROPOSAL_STATES = "'submitted', 'in_consultation', 'adopted', 'rejected'"

# A methodology proposal: submitted, put to public consultation for a comment period, then adopted
# or rejected by the regulator. The six published methodologies are code (voluntary/methodologies/).
ccer_methodology_proposals = Table(
    "ccer_methodology_proposals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("code", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("field", String(32), nullable=False),
    Column("summary", Text, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("submitted_by", String(64), nullable=False),
    Column("submitted_at", String(32), nullable=False),
    Column("consultation_start", String(10)),
    Column("consultation_end", String(10)),
    Column("decided_by", String(64)),
    Column("decided_at", String(32)),
    Column("reason", Text),
    CheckConstraint(f"status IN ({_PROPOSAL_STATES})", name="status_known"),
)

ccer_vvbs = Table(
    "ccer_vvbs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", String(32), nullable=False),
)

# Current accreditation of a body in one field (sectoral scope); its history is in ccer_events.
ccer_vvb_accreditations = Table(
    "ccer_vvb_accreditations",
    metadata,
    Column("vvb_id", String(64), ForeignKey("ccer_vvbs.id"), primary_key=True),
    Column("field", String(32), primary_key=True),
    Column("status", String(12), nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("status IN ('accredited', 'suspended', 'withdrawn')", name="status_known"),
)

# Which users act for which body (role `vvb`).
ccer_vvb_staff = Table(
    "ccer_vvb_staff",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("vvb_id", String(64), ForeignKey("ccer_vvbs.id"), nullable=False, index=True),
    Column("added_by", String(64), nullable=False),
    Column("added_at", String(32), nullable=False),
)

ccer_projects = Table(
    "ccer_projects",
    metadata,
    # [A-Z0-9]{1,24}: the PROJECT part of the instrument id CCER-<PROJECT>-<YEAR>.
    Column("id", String(24), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("methodology", String(32), nullable=False),
    Column("field", String(32), nullable=False),
    Column("sector", String(32), nullable=False),
    Column("province", String(64), nullable=False),
    Column("construction_start", String(10), nullable=False),
    Column("operation_start", String(10), nullable=False),
    Column("crediting_start", String(10), nullable=False),
    Column("crediting_end", String(10), nullable=False),
    # Fixed parameters of the design document for the methodology (grid region, area, ...), JSON.
    Column("parameters", Text, nullable=False),
    Column("document_sha256", String(64), nullable=False),
    Column("expected_annual_t", BigInteger, nullable=False),
    Column("status", String(24), nullable=False),
    Column("validation_vvb", String(64), ForeignKey("ccer_vvbs.id")),
    Column("disclosure_start", String(10)),
    Column("disclosure_end", String(10)),
    Column("decision_due", String(10)),
    Column("registered_on", String(10)),
    Column("article6_authorised", Boolean, nullable=False, default=False),
    # A project registered in the old voluntary registry (before 2017-03-14), recorded by the
    # regulator with its original registration date rather than taken through this lifecycle.
    Column("legacy", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint(f"status IN ({_PROJECT_STATES})", name="status_known"),
    CheckConstraint("expected_annual_t >= 0", name="expected_not_negative"),
    CheckConstraint("crediting_start <= crediting_end", name="crediting_ordered"),
    Index("ix_ccer_projects_status", "status"),
)

# The validation: the body's opinion, its report, and the dual commitment of owner and body
# (each promises that what it submitted is true; Progress Report §6 [seed]).
ccer_validations = Table(
    "ccer_validations",
    metadata,
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), primary_key=True),
    Column("vvb_id", String(64), ForeignKey("ccer_vvbs.id"), nullable=False),
    Column("report_sha256", String(64), nullable=False),
    Column("opinion", Text, nullable=False),
    Column("owner_commitment", Text, nullable=False),
    Column("vvb_commitment", Text, nullable=False),
    Column("validated_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
)

# A monitoring report: one project's reductions for one period within one calendar year (one vintage).
ccer_reports = Table(
    "ccer_reports",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), nullable=False),
    Column("period_start", String(10), nullable=False),
    Column("period_end", String(10), nullable=False),
    Column("vintage", Integer, nullable=False),
    # The methodology's monitored parameters as exact decimal text, JSON.
    Column("inputs", Text, nullable=False),
    Column("calculation", Text, nullable=False),
    Column("claimed_t", BigInteger, nullable=False),
    Column("verified_t", BigInteger),
    Column("status", String(24), nullable=False),
    Column("verification_vvb", String(64), ForeignKey("ccer_vvbs.id")),
    Column("verification_sha256", String(64)),
    Column("disclosure_start", String(10)),
    Column("disclosure_end", String(10)),
    Column("decision_due", String(10)),
    Column("registered_on", String(10)),
    # "<project>:<period_start>" while the report is not rejected: one live report per period start.
    Column("live_key", String(40), unique=True),
    Column("submitted_by", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint(f"status IN ({_REPORT_STATES})", name="status_known"),
    CheckConstraint("claimed_t >= 0", name="claimed_not_negative"),
    CheckConstraint(
        "verified_t IS NULL OR (verified_t >= 0 AND verified_t <= claimed_t)", name="verified_within"
    ),
    CheckConstraint("period_start <= period_end", name="period_ordered"),
    Index("ix_ccer_reports_project", "project_id", "period_start"),
    Index("ix_ccer_reports_status", "status"),
)

# Issuance of one monitoring report's reductions: one serial block of one instrument. The report id
# is unique, so a second issuance for the same monitoring period cannot be stored.
ccer_issuances = Table(
    "ccer_issuances",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("report_id", String(64), ForeignKey("ccer_reports.id"), nullable=False, unique=True),
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), nullable=False),
    Column("instrument_id", String(64), nullable=False),
    Column("vintage", Integer, nullable=False),
    Column("period_start", String(10), nullable=False),
    Column("period_end", String(10), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("first_serial", BigInteger, nullable=False),
    Column("last_serial", BigInteger, nullable=False),
    Column("to_account", String(64), nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    CheckConstraint("first_serial >= 1 AND last_serial - first_serial + 1 = quantity", name="block_fits"),
    Index("ix_ccer_issuances_instrument", "instrument_id", "first_serial"),
    Index("ix_ccer_issuances_project", "project_id"),
)

# Cancellations for voluntary claims and international transfers, with what the public certificate shows.
ccer_cancellations = Table(
    "ccer_cancellations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("certificate_id", String(80), nullable=False, unique=True),
    Column("transaction_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("claim", String(16)),
    Column("account_id", String(64), nullable=False),
    Column("project_id", String(24), nullable=False),
    Column("instrument_id", String(64), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("serials", Text, nullable=False),
    Column("beneficiary", String(200), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("authorisation_id", String(64)),
    Column("acquiring_party", String(64)),
    Column("first_transfer", Boolean, nullable=False, default=False),
    Column("corresponding_adjustment", Boolean, nullable=False, default=False),
    Column("cancelled_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("kind IN ('voluntary', 'international')", name="kind_known"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_ccer_cancellations_instrument", "instrument_id"),
)

# Article 6 authorisations of a project's mitigation outcomes by the host country.
ccer_authorisations = Table(
    "ccer_authorisations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), nullable=False, index=True),
    Column("uses", String(64), nullable=False),
    Column("reference", String(200), nullable=False),
    Column("authorised_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
)

# Green electricity certificates (GEC) claimed for a project's output over a period: the same
# electricity may not earn CCERs as well.
ccer_gec_claims = Table(
    "ccer_gec_claims",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), nullable=False),
    Column("period_start", String(10), nullable=False),
    Column("period_end", String(10), nullable=False),
    Column("mwh", BigInteger, nullable=False),
    Column("reference", String(200), nullable=False),
    Column("recorded_by", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("mwh > 0", name="mwh_positive"),
    CheckConstraint("period_start <= period_end", name="period_ordered"),
    Index("ix_ccer_gec_claims_project", "project_id", "period_start"),
)

# Public comments on a project's design document, a monitoring report or a methodology proposal,
# accepted only within the disclosure or consultation window.
ccer_comments = Table(
    "ccer_comments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subject_kind", String(12), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("author", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("at", String(32), nullable=False),
    CheckConstraint("subject_kind IN ('project', 'report', 'proposal')", name="subject_known"),
    Index("ix_ccer_comments_subject", "subject_kind", "subject_id", "id"),
)

# Every state change of a project, report, proposal or accreditation, in order. Never updated.
ccer_events = Table(
    "ccer_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("from_status", String(24)),
    Column("to_status", String(24), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("note", Text),
    Column("at", String(32), nullable=False),
    Index("ix_ccer_events_subject", "subject_kind", "subject_id", "id"),
)

# API keys of monitoring devices: only the sha256 of the random key is stored.
ccer_api_keys = Table(
    "ccer_api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), nullable=False, index=True),
    Column("key_sha256", String(64), nullable=False, unique=True),
    Column("label", String(100), nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)

# Networked metering readings (per second for coal mine methane). The key makes a resent reading
# a duplicate that is ignored.
ccer_readings = Table(
    "ccer_readings",
    metadata,
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), primary_key=True),
    Column("meter", String(64), primary_key=True),
    Column("ts", String(32), primary_key=True),
    # Millionths of the meter's unit: exact integer sums on both databases (values have ≤ 6 decimals).
    Column("value_micro", BigInteger, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("received_at", String(32), nullable=False),
)

# The newest reading per meter, so out-of-order checks cost one row read per meter.
ccer_meters = Table(
    "ccer_meters",
    metadata,
    Column("project_id", String(24), ForeignKey("ccer_projects.id"), primary_key=True),
    Column("meter", String(64), primary_key=True),
    Column("last_ts", String(32), nullable=False),
    Column("readings", BigInteger, nullable=False),
    CheckConstraint("readings >= 0", name="readings_not_negative"),
)

__all__ = [
    "ccer_api_keys",
    "ccer_authorisations",
    "ccer_cancellations",
    "ccer_comments",
    "ccer_events",
    "ccer_gec_claims",
    "ccer_issuances",
    "ccer_meters",
    "ccer_methodology_proposals",
    "ccer_projects",
    "ccer_readings",
    "ccer_reports",
    "ccer_validations",
    "ccer_vvb_accreditations",
    "ccer_vvb_staff",
    "ccer_vvbs",
]
