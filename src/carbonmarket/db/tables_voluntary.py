"""Tables of the voluntary context, on the platform's shared metadata (created by its migration)."""

from __future__ import annotations

from carbonmarket.db.tables import metadata  # noqa: F401
