"""The roster on SQLite and PostgreSQL: entities, facilities, history, roles, imports, idempotency."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from carbonmarket.audit.service import verify
from carbonmarket.core.actors import Actor, Role
from carbonmarket.core.results import Code, Done, Outcome, Refusal
from carbonmarket.db.tables import audit_log, commands
from carbonmarket.db.tables_roster import roster_changes, roster_emissions, roster_entities, roster_imports
from carbonmarket.mrv.roster import store
from carbonmarket.mrv.roster.model import replay
from carbonmarket.mrv.roster.service import Roster

OPERATOR = Actor("operator", Role.REGISTRY_OPERATOR)
REGULATOR = Actor("regulator", Role.REGULATOR)
REPRESENTATIVE = Actor("rep-a", Role.ENTITY_REPRESENTATIVE)

LONG = b"""entity,year,emissions
GD-0001,2023,3100000
GD-0001,2024,2900000
GD-0002,2024,25999
GD-0003,2024,Not Reported
"""


def done(outcome: Outcome) -> dict[str, Any]:
    assert isinstance(outcome, Done), outcome
    return outcome.data


def refused(outcome: Outcome, code: Code) -> str:
    assert isinstance(outcome, Refusal), outcome
    assert outcome.code is code, outcome
    return outcome.message


@pytest.fixture
def roster(engine: Engine) -> Roster:
    """A roster with one power entity and one cement entity."""
    service = Roster(engine)
    done(
        service.add_entity(
            OPERATOR, "GD-0001", "Huaneng Shantou Power", "power", "Guangdong", "Shantou", 2021
        )
    )
    done(service.add_entity(REGULATOR, "AH-0002", "Conch Wuhu Cement", "cement", "Anhui", "Wuhu", 2025))
    return service


def test_an_entity_and_its_facilities_are_read_as_the_mrv_contract_says(roster: Roster) -> None:
    done(
        roster.add_facility(
            OPERATOR, "GD-0001-U1", "GD-0001", fuel="coal", capacity_mw="660", cooling="water"
        )
    )
    done(roster.add_facility(OPERATOR, "GD-0001-U2", "GD-0001", fuel="cfb", capacity_mw="135", cooling="air"))
    done(
        roster.add_facility(
            OPERATOR, "AH-0002-K1", "AH-0002", line_type="clinker", capacity_t_per_year=1_550_000
        )
    )
    assert roster.entity("GD-0001") == {
        "entity_id": "GD-0001",
        "name": "Huaneng Shantou Power",
        "sector": "power",
        "province": "Guangdong",
        "city": "Shantou",
        "status": "active",
        "inclusion_year": 2021,
    }
    unit = roster.facility("GD-0001-U1")
    assert {k: unit[k] for k in ("facility_id", "entity_id", "sector", "category")} == {
        "facility_id": "GD-0001-U1",
        "entity_id": "GD-0001",
        "sector": "power",
        "category": "I",
    }
    assert unit["capacity_mw"] == 660
    assert roster.facility("GD-0001-U2")["category"] == "III"
    assert roster.facility("AH-0002-K1")["line_type"] == "clinker"
    with pytest.raises(Exception, match="roster_entity_not_found"):
        roster.entity("XX-9")


def test_changes_append_history_rows_and_never_overwrite_the_old_values(
    roster: Roster, engine: Engine
) -> None:
    done(
        roster.add_facility(
            OPERATOR, "GD-0001-U1", "GD-0001", fuel="coal", capacity_mw="660", cooling="water"
        )
    )
    changed = done(
        roster.change_entity(OPERATOR, "chg-1", "GD-0001", {"city": "Chaozhou"}, "moved registration")
    )
    assert changed["changes"] == {"city": ["Shantou", "Chaozhou"]} and changed["version"] == 2
    done(
        roster.change_entity(REGULATOR, "chg-2", "GD-0001", {"status": "suspended"}, "units idle for a year")
    )
    derated = done(roster.change_facility(OPERATOR, "chg-3", "GD-0001-U1", {"capacity_mw": "390"}, "derated"))
    assert derated["changes"] == {"capacity_mw": ["660", "390"], "category": ["I", "II"]}

    detail = roster.entity_detail("GD-0001")
    assert detail["entity"]["version"] == 3 and detail["entity"]["status"] == "suspended"
    history = detail["history"]
    assert [(h["kind"], h["actor"], h["reason"]) for h in history] == [
        ("entity.add", "operator", "listed on the roster"),
        ("facility.add", "operator", "facility recorded"),
        ("entity.change", "operator", "moved registration"),
        ("entity.change", "regulator", "units idle for a year"),
        ("facility.change", "operator", "derated"),
    ]
    assert all(h["at"] for h in history)
    # The current row is exactly what its history replays to: nothing was lost on the way.
    entity_diffs = [h["changes"] for h in history if h["kind"].startswith("entity.")]
    entity = roster.entity("GD-0001")
    assert replay(entity_diffs) == {k: v for k, v in entity.items() if k != "entity_id"}
    unit_diffs = [h["changes"] for h in history if h["facility_id"] == "GD-0001-U1"]
    assert replay(unit_diffs)["category"] == "II"
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(roster_changes)).scalar_one() == 6
    assert verify(engine).ok


def test_a_removed_entity_keeps_its_record_and_can_only_be_listed_again(roster: Roster) -> None:
    done(roster.change_entity(OPERATOR, "rm-1", "GD-0001", {"status": "removed"}, "plant closed"))
    refused(
        roster.change_entity(OPERATOR, "rm-2", "GD-0001", {"name": "X"}, "typo"), Code.ROSTER_ENTITY_REMOVED
    )
    refused(
        roster.add_facility(OPERATOR, "U9", "GD-0001", fuel="gas", capacity_mw=300, cooling="air"),
        Code.ROSTER_ENTITY_REMOVED,
    )
    done(roster.change_entity(OPERATOR, "rm-3", "GD-0001", {"status": "active"}, "re-opened in 2026"))
    assert roster.entity("GD-0001")["status"] == "active"


def test_the_sector_of_an_entity_with_running_facilities_cannot_change(roster: Roster) -> None:
    done(roster.add_facility(OPERATOR, "AH-0002-K1", "AH-0002", line_type="clinker"))
    message = refused(
        roster.change_entity(OPERATOR, "s-1", "AH-0002", {"sector": "steel"}, "misfiled"),
        Code.ROSTER_FACILITY_SECTOR_MISMATCH,
    )
    assert "cement facilities" in message
    done(roster.change_facility(OPERATOR, "s-2", "AH-0002-K1", {"status": "closed"}, "kiln demolished"))
    done(roster.change_entity(OPERATOR, "s-3", "AH-0002", {"sector": "steel"}, "misfiled"))


def test_only_regulators_and_registry_operators_keep_the_roster(roster: Roster, engine: Engine) -> None:
    assert "registry_operator or regulator" in refused(
        roster.add_entity(REPRESENTATIVE, "GD-0009", "Mine", "power", "Guangdong"), Code.FORBIDDEN
    )
    refused(roster.change_entity(REPRESENTATIVE, "c-9", "GD-0001", {"city": "X"}, "mine"), Code.FORBIDDEN)
    refused(
        roster.add_facility(REPRESENTATIVE, "U-9", "GD-0001", fuel="gas", capacity_mw=1, cooling="air"),
        Code.FORBIDDEN,
    )
    refused(roster.import_file(REPRESENTATIVE, LONG, "long.csv"), Code.FORBIDDEN)
    assert roster.entity("GD-0001")["city"] == "Shantou"
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(roster_imports)).scalar_one() == 0
        actions = [r.action for r in connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq))]
    assert actions[-4:] == ["refused"] * 4, "every refusal is in the audit log"
    assert verify(engine).ok


def test_the_same_command_id_returns_the_first_result_and_another_body_is_refused(roster: Roster) -> None:
    again = roster.add_entity(
        OPERATOR, "GD-0001", "Huaneng Shantou Power", "power", "Guangdong", "Shantou", 2021
    )
    assert isinstance(again, Done) and again.result == "exists"
    refused(
        roster.add_entity(OPERATOR, "GD-0001", "Another Plant", "power", "Guangdong"),
        Code.EXISTS_WITH_DIFFERENT_FIELDS,
    )
    first = roster.change_entity(OPERATOR, "chg-1", "GD-0001", {"city": "Chaozhou"}, "moved")
    replayed = roster.change_entity(OPERATOR, "chg-1", "GD-0001", {"city": "Chaozhou"}, "moved")
    assert isinstance(replayed, Done) and replayed.result == "exists" and replayed.data == done(first)
    refused(
        roster.change_entity(OPERATOR, "chg-1", "GD-0001", {"city": "Jieyang"}, "moved"),
        Code.EXISTS_WITH_DIFFERENT_FIELDS,
    )
    assert roster.entity_detail("GD-0001")["entity"]["version"] == 2


def test_search_filters_and_pages_the_roster(roster: Roster) -> None:
    for n in range(5):
        done(roster.add_entity(OPERATOR, f"JS-{n:04d}", f"Jiangsu Steel {n}", "steel", "Jiangsu", None, 2025))
    page = roster.entities(sector="steel", page=2, page_size=2)
    assert (page["total"], [e["entity_id"] for e in page["entities"]]) == (5, ["JS-0002", "JS-0003"])
    assert roster.entities(text="conch")["total"] == 1
    assert roster.entities(province="Guangdong")["entities"][0]["entity_id"] == "GD-0001"
    assert roster.entities(page_size=10_000)["page_size"] == 500
    with pytest.raises(Exception, match="roster_invalid_sector"):
        roster.entities(sector="aviation")


def test_an_import_is_stored_once_and_replaying_the_file_answers_exists(
    roster: Roster, engine: Engine
) -> None:
    first = roster.import_file(OPERATOR, LONG, "long.csv", 2024, 26_000)
    data = done(first)
    assert isinstance(first, Done) and first.result == "created"
    assert (data["rows"], data["included"], data["excluded"], data["values_stored"]) == (4, 1, 1, 3)
    assert data["rejected"] == [
        {"row": 5, "entity": "GD-0003", "reason": "2024: 'Not Reported' is not a number of tonnes"}
    ]
    again = roster.import_file(REGULATOR, LONG, "renamed.csv", 2023, 3_000_000)
    assert isinstance(again, Done) and again.result == "exists"
    assert (done(again)["included"], done(again)["file"]) == (1, "long.csv")
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(roster_imports)).scalar_one() == 1
        assert connection.execute(select(func.count()).select_from(roster_emissions)).scalar_one() == 3
    # A client id of its own, reused for another file, is refused.
    done(roster.import_file(OPERATOR, LONG, "long.csv", command_id="upload-7"))
    refused(
        roster.import_file(OPERATOR, LONG + b"GD-0004,2024,1\n", "x.csv", command_id="upload-7"),
        Code.EXISTS_WITH_DIFFERENT_FIELDS,
    )


def test_inclusion_uses_the_newest_import_and_shows_who_is_on_the_roster(roster: Roster) -> None:
    done(roster.import_file(OPERATOR, LONG, "long.csv"))
    done(roster.import_file(OPERATOR, b"entity,year,emissions\nGD-0002,2024,26000\n", "correction.csv"))
    report = roster.inclusion(2024)
    assert (report["reported"], report["included"], report["excluded"]) == (2, 2, 0)
    assert report["entities"] == [
        {
            "entity": "GD-0001",
            "emissions_t": 2_900_000,
            "on_roster": True,
            "name": "Huaneng Shantou Power",
            "status": "active",
        },
        {"entity": "GD-0002", "emissions_t": 26_000, "on_roster": False, "name": None, "status": None},
    ]
    assert roster.inclusion(2024, threshold_t=100_000)["included"] == 1
    assert roster.entity_detail("GD-0001")["emissions"][0]["year"] == 2023


def test_a_file_that_fails_while_storing_leaves_nothing_behind(
    roster: Roster, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.insert_emissions

    def half_then_crash(connection: Any, seq: int, values: Any) -> None:
        real(connection, seq, values[:1])
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "insert_emissions", half_then_crash)
    with pytest.raises(RuntimeError):
        roster.import_file(OPERATOR, LONG, "long.csv")
    with engine.connect() as connection:
        for table in (roster_imports, roster_emissions):
            assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0
        assert (
            connection.execute(
                select(func.count()).select_from(commands).where(commands.c.kind == "roster.import")
            ).scalar_one()
            == 0
        )
    monkeypatch.setattr(store, "insert_emissions", real)
    assert done(roster.import_file(OPERATOR, LONG, "long.csv"))["values_stored"] == 3


def test_an_unreadable_file_is_refused_whole_and_the_refusal_is_audited(
    roster: Roster, engine: Engine
) -> None:
    refused(roster.import_file(OPERATOR, b"name,total\nX,1\n", "bad.csv"), Code.ROSTER_LAYOUT_UNKNOWN)
    refused(roster.import_file(OPERATOR, LONG, "long.csv", year=2031), Code.ROSTER_INVALID_YEAR)
    refused(roster.import_file(OPERATOR, LONG, "long.csv", threshold_t=-1), Code.ROSTER_INVALID_THRESHOLD)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(roster_imports)).scalar_one() == 0
        assert connection.execute(select(func.count()).select_from(roster_entities)).scalar_one() == 2
        last = connection.execute(select(audit_log.c.action).order_by(audit_log.c.seq.desc()).limit(3)).all()
    assert [r.action for r in last] == ["refused"] * 3


def test_rows_never_reach_an_impossible_state(roster: Roster, engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(roster_entities.update().values(status="deleted"))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            roster_emissions.insert().values(import_seq=999, entity_ref="X", year=2024, emissions_t=-1, row=2)
        )
    with engine.connect() as connection:
        assert store.get_entity(connection, "GD-0001") is not None
