"""Fail if a PostgreSQL or browser test was skipped, or if none of them ran at all.

Run after pytest with the JUnit XML report; CI must prove the real database and the real browser
were exercised, not merely that nothing failed.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree


def main(report_path: str) -> int:
    """Read the report and return the process exit status."""
    root = ElementTree.parse(report_path).getroot()
    postgres_ran = browser_ran = 0
    skipped_needed: list[str] = []
    total = skipped = 0
    for case in root.iter("testcase"):
        total += 1
        name = f"{case.get('classname')}::{case.get('name')}"
        needs_pg = "postgres" in name or "pg_" in name
        needs_browser = "browser" in name
        was_skipped = case.find("skipped") is not None
        skipped += was_skipped
        if was_skipped and (needs_pg or needs_browser):
            skipped_needed.append(name)
        elif not was_skipped:
            postgres_ran += needs_pg
            browser_ran += needs_browser
    print(
        f"{total} tests, {skipped} skipped; "
        f"{postgres_ran} PostgreSQL tests and {browser_ran} browser tests ran"
    )
    if skipped_needed:
        print("these PostgreSQL/browser tests were skipped:", *skipped_needed, sep="\n  ", file=sys.stderr)
        return 1
    if postgres_ran == 0 or browser_ran == 0:
        print("no PostgreSQL or no browser test ran", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "reports/junit.xml"))
