"""The catalogue is data: 100+ rules in four categories, each with a record it passes and one it fails."""

from __future__ import annotations

from collections import Counter

import pytest

from carbonmarket.mrv.model import MonthlyRecord, RuleCategory, Sector
from carbonmarket.mrv.rules.catalogue import CatalogueError, catalogue, load_catalogue, rules_for
from carbonmarket.mrv.rules.engine import evaluate
from carbonmarket.mrv.rules.model import Example, Rule

RULES = catalogue()


def records_of(example: Example, sector: Sector) -> tuple[MonthlyRecord, list[MonthlyRecord]]:
    """The example as a record of one facility, and its previous month when the example has one."""
    record = MonthlyRecord("E1", "F1", sector, example.year, example.month, dict(example.values))
    if example.prev is None:
        return record, []
    period = example.year * 12 + example.month - 1 - example.prev_months_ago
    earlier = MonthlyRecord("E1", "F1", sector, period // 12, period % 12 + 1, dict(example.prev))
    return record, [earlier]


def fired(rule: Rule, example: Example) -> list[str]:
    """Which of this one rule's findings the example raises, for every sector of the rule."""
    ids = []
    for sector in rule.sectors:
        record, previous = records_of(example, sector)
        ids += [f.rule_id for f in evaluate(record, previous, context=example.context, rules=[rule])]
    return ids


def test_the_catalogue_has_at_least_100_rules_in_all_four_categories() -> None:
    categories = Counter(r.category for r in RULES)
    assert len(RULES) >= 100
    assert set(categories) == set(RuleCategory)


def test_every_sector_has_rules_of_its_own() -> None:
    for sector in Sector:
        assert len(rules_for(sector)) >= 15


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_passes_its_passing_example(rule: Rule) -> None:
    assert fired(rule, rule.example_pass) == []


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_fails_its_failing_example(rule: Rule) -> None:
    assert fired(rule, rule.example_fail) == [rule.id] * len(rule.sectors)


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_has_a_rationale_and_a_source(rule: Rule) -> None:
    assert len(rule.rationale) > 30 and rule.source


def _one_rule(**changes: str) -> str:
    fields = {
        "id": '"PWR-EXT-999"',
        "category": '"theoretical_extreme"',
        "severity": '"error"',
        "parameters": '["load_rate_fraction"]',
        "check": '"load_rate_fraction <= 1"',
        "message": '"too high"',
        "rationale": '"a fraction is at most one"',
        "source": '"definition"',
        "example_pass": "{ values = { load_rate_fraction = 0.5 } }",
        "example_fail": "{ values = { load_rate_fraction = 2 } }",
    } | changes
    body = "\n".join(f"{k} = {v}" for k, v in fields.items())
    return f'schema_version = 1\nsectors = ["power"]\n[[rules]]\n{body}\n'


def test_a_well_formed_rule_file_loads() -> None:
    (rule,) = load_catalogue({"x.toml": _one_rule()})
    assert rule.id == "PWR-EXT-999" and rule.parameter == "load_rate_fraction"


@pytest.mark.parametrize(
    "changes",
    [
        {"category": '"vibes"'},
        {"severity": '"fatal"'},
        {"id": '"bad id"'},
        {"parameters": '["coal_consumed_t"]'},
        {"check": "\"__import__('os').system('true')\""},
        {"check": '"crude_steel_output_t > 0"'},
        {"rationale": '""'},
    ],
    ids=["category", "severity", "id", "parameters", "unsafe", "other_sector", "rationale"],
)
def test_a_malformed_rule_is_refused_at_load(changes: dict[str, str]) -> None:
    with pytest.raises(CatalogueError):
        load_catalogue({"x.toml": _one_rule(**changes)})


def test_a_duplicate_rule_id_is_refused() -> None:
    with pytest.raises(CatalogueError, match="twice"):
        load_catalogue({"a.toml": _one_rule(), "b.toml": _one_rule()})
