"""Tables of MRV review and verification (issue 3; migration 0005_review).

Review: reviewers' tier and scope, cases, the alerts each case covers, the issue thread and its
attachments. Verification: bodies and their qualification history, their staff, verifications,
nonconformities, and the published evaluations. Threads, status history and evaluations are
append-only: a row is never updated once written, so what a reviewer or the public saw stays on record.
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

_TIERS = "'national', 'provincial', 'municipal'"

# Who reviews at which tier, and where. A user without a row acts only if a regulator (national tier).
mrv_reviewers = Table(
    "mrv_reviewers",
    metadata,
    Column("username", String(64), ForeignKey("users.username"), primary_key=True),
    Column("tier", String(12), nullable=False),
    Column("province", String(64)),
    Column("city", String(64)),
    Column("assigned_by", String(64), nullable=False),
    Column("assigned_at", String(32), nullable=False),
    CheckConstraint(f"tier IN ({_TIERS})", name="tier_known"),
)

mrv_review_cases = Table(
    "mrv_review_cases",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("entity_id", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("month", Integer),
    # Where the entity is, copied from the roster when the case opens: scope checks must not
    # change meaning if the roster later moves the entity.
    Column("province", String(64)),
    Column("city", String(64)),
    Column("tier", String(12), nullable=False),
    Column("status", String(24), nullable=False),
    Column("source", String(10), nullable=False),
    Column("title", String(200), nullable=False),
    Column("assignee", String(64)),
    Column("outcome", String(20)),
    Column("opened_by", String(64), nullable=False),
    Column("opened_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
    Column("resolved_by", String(64)),
    Column("resolved_at", String(32)),
    Column("closed_at", String(32)),
    CheckConstraint(f"tier IN ({_TIERS})", name="tier_known"),
    CheckConstraint("status IN ('open', 'in_review', 'correction_required', 'closed')", name="status_known"),
    CheckConstraint("source IN ('alert', 'manual')", name="source_known"),
    CheckConstraint(
        "outcome IS NULL OR outcome IN ('confirmed_error', 'explained', 'false_alert')", name="outcome_known"
    ),
    CheckConstraint("month IS NULL OR (month >= 1 AND month <= 12)", name="month_in_year"),
    Index("ix_mrv_review_cases_queue", "status", "tier", "province", "city"),
    Index("ix_mrv_review_cases_entity_year", "entity_id", "year"),
)

# The validation model's alerts a case covers; an alert belongs to at most one case.
mrv_review_case_alerts = Table(
    "mrv_review_case_alerts",
    metadata,
    # Alert ids are `<record_id>/<rule_id>` (mrv_alerts.id, 120 characters).
    Column("alert_id", String(120), primary_key=True),
    Column("case_id", String(64), ForeignKey("mrv_review_cases.id"), nullable=False, index=True),
)

# The issue thread: every comment and every transition of a case, in order. Never updated.
mrv_review_messages = Table(
    "mrv_review_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", String(64), ForeignKey("mrv_review_cases.id"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("author", String(64), nullable=False),
    Column("tier", String(12), nullable=False),
    Column("body", Text, nullable=False),
    Column("at", String(32), nullable=False),
    Index("ix_mrv_review_messages_case", "case_id", "id"),
)

mrv_review_attachments = Table(
    "mrv_review_attachments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", BigInteger, ForeignKey("mrv_review_messages.id"), nullable=False, index=True),
    Column("case_id", String(64), ForeignKey("mrv_review_cases.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
)

mrv_verification_bodies = Table(
    "mrv_verification_bodies",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("province", String(64)),
    Column("status", String(12), nullable=False),
    Column("applied_at", String(32), nullable=False),
    Column("qualified_at", String(32)),
    Column("updated_at", String(32), nullable=False),
    CheckConstraint("status IN ('applied', 'qualified', 'suspended', 'withdrawn')", name="status_known"),
)

# Qualification history of each body (entry, conduct, exit), with the reason given. Never updated.
mrv_verification_body_events = Table(
    "mrv_verification_body_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("body_id", String(64), ForeignKey("mrv_verification_bodies.id"), nullable=False),
    Column("from_status", String(12)),
    Column("to_status", String(12), nullable=False),
    Column("reason", Text, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("at", String(32), nullable=False),
    Index("ix_mrv_verification_body_events_body", "body_id", "id"),
)

# Which users verify for which body.
mrv_verifiers = Table(
    "mrv_verifiers",
    metadata,
    Column("username", String(64), ForeignKey("users.username"), primary_key=True),
    Column("body_id", String(64), ForeignKey("mrv_verification_bodies.id"), nullable=False, index=True),
    Column("added_by", String(64), nullable=False),
    Column("added_at", String(32), nullable=False),
)

mrv_verifications = Table(
    "mrv_verifications",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("entity_id", String(64), nullable=False),
    Column("year", Integer, nullable=False),
    Column("body_id", String(64), ForeignKey("mrv_verification_bodies.id"), nullable=False),
    Column("status", String(12), nullable=False),
    Column("mode", String(12), nullable=False),
    # "<entity>:<year>" while the verification is live, NULL once cancelled: the unique key lets
    # one live verification per entity-year exist on both databases without a partial index.
    Column("live_key", String(100), unique=True),
    Column("assigned_by", String(64), nullable=False),
    Column("assigned_at", String(32), nullable=False),
    Column("started_at", String(32)),
    Column("submitted_at", String(32)),
    Column("returns", Integer, nullable=False, default=0),
    Column("verified_emissions_tco2e", BigInteger),
    Column("reported_emissions_tco2e", BigInteger),
    Column("report_sha256", String(64)),
    Column("accepted_by", String(64)),
    Column("accepted_at", String(32)),
    Column("cancelled_at", String(32)),
    Column("reason", Text),
    CheckConstraint(
        "status IN ('assigned', 'in_progress', 'submitted', 'verified', 'cancelled')", name="status_known"
    ),
    CheckConstraint("mode IN ('full', 'streamlined')", name="mode_known"),
    CheckConstraint("returns >= 0", name="returns_not_negative"),
    CheckConstraint(
        "verified_emissions_tco2e IS NULL OR verified_emissions_tco2e >= 0", name="verified_not_negative"
    ),
    CheckConstraint(
        "status <> 'verified' OR verified_emissions_tco2e IS NOT NULL", name="verified_has_figure"
    ),
    Index("ix_mrv_verifications_entity_year", "entity_id", "year"),
    Index("ix_mrv_verifications_body_year", "body_id", "year"),
)

mrv_nonconformities = Table(
    "mrv_nonconformities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("verification_id", String(64), ForeignKey("mrv_verifications.id"), nullable=False, index=True),
    Column("description", Text, nullable=False),
    Column("parameter", String(64)),
    Column("month", Integer),
    Column("status", String(8), nullable=False),
    Column("raised_by", String(64), nullable=False),
    Column("raised_at", String(32), nullable=False),
    Column("closure", Text),
    Column("closed_by", String(64)),
    Column("closed_at", String(32)),
    CheckConstraint("status IN ('open', 'closed')", name="status_known"),
    CheckConstraint("month IS NULL OR (month >= 1 AND month <= 12)", name="month_in_year"),
)

# A year's published evaluation: the formula as published, then one row per body. Never updated.
mrv_evaluation_publications = Table(
    "mrv_evaluation_publications",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("formula_version", Integer, nullable=False),
    Column("formula", Text, nullable=False),
    Column("published_by", String(64), nullable=False),
    Column("published_at", String(32), nullable=False),
)

mrv_body_evaluations = Table(
    "mrv_body_evaluations",
    metadata,
    Column("year", Integer, ForeignKey("mrv_evaluation_publications.year"), primary_key=True),
    Column("body_id", String(64), ForeignKey("mrv_verification_bodies.id"), primary_key=True),
    Column("rated", Boolean, nullable=False),
    Column("score", Integer),
    Column("grade", String(4)),
    Column("detail", Text, nullable=False),
)
