"""Client-chosen ids: every command from outside names itself, so a retry is recognised (rule 4)."""

from __future__ import annotations

import hashlib
import re
import uuid

from carbonmarket.core.results import Code, Refused

id_length_max = 64
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")


def check_id(value: str, *, what: str = "id") -> str:
    """Return `value` if it is a usable id (1-64 of letters, digits, '.', '_', ':', '-'), else refuse."""
    if not isinstance(value, str) or not value or len(value) > id_length_max or not _ID_PATTERN.match(value):
        raise Refused(
            Code.INVALID_ID,
            f"{what} {value!r} must be 1-{id_length_max} letters, digits, '.', '_', ':' or '-'",
        )
    return value


def new_id(prefix: str = "") -> str:
    """A fresh random id for commands whose caller did not choose one."""
    return f"{prefix}{uuid.uuid4().hex}"


def derived_id(prefix: str, *parts: object) -> str:
    """A stable command id for a command whose natural key is several values (always ≤ 64 chars)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()[:40]
    return f"{prefix[:20]}-{digest}"
