"""Instrument ids: allowances by vintage (CEA24, CEA19-20), CCER credits, and the CNY funds unit.

The ids are the ones the national market uses on its screens: a CEA's vintage is a year or a
two-year range (the 2019-2020 allowances were issued as one vintage). A CCER instrument is one
project's credits of one vintage year, `CCER-<project>-<year>`, so that serial blocks, eligibility
(e.g. reductions after 22 Sep 2020, DOMAIN.md §6) and offsets can be decided per instrument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from carbonmarket.core.results import Code, Refused


class InstrumentKind(StrEnum):
    """What family of unit an instrument is; decides which accounts may hold it."""

    ALLOWANCE = "allowance"
    CCER = "ccer"
    FUNDS = "funds"


@dataclass(frozen=True)
class Vintage:
    """The year or years whose emissions a unit belongs to, inclusive."""

    first_year: int
    last_year: int

    def __str__(self) -> str:
        if self.first_year == self.last_year:
            return str(self.first_year)
        return f"{self.first_year}-{self.last_year}"


@dataclass(frozen=True)
class InstrumentId:
    """A parsed instrument id; `str()` gives back the canonical text."""

    kind: InstrumentKind
    text: str
    vintage: Vintage | None
    project: str | None = None

    def __str__(self) -> str:
        return self.text

    @property
    def unit(self) -> str:
        """The smallest unit the ledger counts this instrument in."""
        return "fen" if self.kind is InstrumentKind.FUNDS else "t"


_CEA = re.compile(r"^CEA(\d{2})(?:-(\d{2}))?$")
_CCER = re.compile(r"^CCER-([A-Z0-9]{1,24})-(\d{4})$")
FUNDS_ID = "CNY"
# Vintages before the national market opened (2019) are not national allowances at all; CCERs
# date from the first voluntary registry (projects registered from 2013, DOMAIN.md §4).
first_allowance_year = 2019
first_ccer_year = 2013
last_vintage_year = 2099


def parse_instrument(text: str) -> InstrumentId:
    """Parse `CEA24`, `CEA19-20`, `CCER-<PROJECT>-<YYYY>` or `CNY`; refuse anything else."""
    if not isinstance(text, str):
        raise Refused(Code.INVALID_INSTRUMENT_ID, f"instrument id must be text, not {text!r}")
    cleaned = text.strip().upper()
    if cleaned == FUNDS_ID:
        return InstrumentId(InstrumentKind.FUNDS, FUNDS_ID, None)
    if match := _CEA.match(cleaned):
        return _allowance(cleaned, match)
    if match := _CCER.match(cleaned):
        year = int(match.group(2))
        _check_year(year, text, first_ccer_year)
        return InstrumentId(InstrumentKind.CCER, cleaned, Vintage(year, year), project=match.group(1))
    raise Refused(
        Code.INVALID_INSTRUMENT_ID,
        f"{text!r} is not an instrument id; expected e.g. CEA24, CEA19-20, CCER-P0001-2025 or CNY",
    )


def _allowance(cleaned: str, match: re.Match[str]) -> InstrumentId:
    """Build an allowance id, checking the vintage range is forward and contiguous."""
    first = 2000 + int(match.group(1))
    last = 2000 + int(match.group(2)) if match.group(2) else first
    _check_year(first, cleaned, first_allowance_year)
    if last < first or last - first > 1:
        raise Refused(Code.INVALID_INSTRUMENT_ID, f"{cleaned!r}: a vintage range spans one or two years")
    return InstrumentId(InstrumentKind.ALLOWANCE, cleaned, Vintage(first, last))


def allowance_vintage(year: int) -> str:
    """The allowance instrument of a compliance year: CEA23 for 2023; 2019 and 2020 share CEA19-20."""
    return "CEA19-20" if year in (2019, 2020) else f"CEA{year % 100:02d}"


def _check_year(year: int, text: str, first_year: int) -> None:
    """Refuse vintages outside the life of the market the unit belongs to."""
    if not first_year <= year <= last_vintage_year:
        raise Refused(
            Code.INVALID_INSTRUMENT_ID,
            f"{text!r}: vintage {year} is outside {first_year}-{last_vintage_year}",
        )
