"""Rules for users: names, password strength."""

from __future__ import annotations

from carbonmarket.core.results import Code, Refused

password_length_min = 10
password_length_max = 200


def check_password(password: str) -> None:
    """A password is long enough to resist guessing and short enough to hash quickly."""
    if not isinstance(password, str) or not password_length_min <= len(password) <= password_length_max:
        raise Refused(
            Code.INVALID_TEXT, f"a password has {password_length_min}-{password_length_max} characters"
        )
