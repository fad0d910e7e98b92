"""Settings: the commented default file, and every wrong setting named with what is allowed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from conftest import EXAMPLES
from qaudit.config import DEFAULT_COLUMNS, Settings, default_toml, load_settings, parse_settings
from qaudit.errors import ConfigError

EXAMPLE_TOML = EXAMPLES / "qaudit.toml"


def test_init_file_says_every_default() -> None:
    assert parse_settings(tomllib.loads(default_toml()), "qaudit.toml") == Settings()


def test_default_quotas_are_120_a_cycle_six_per_type_per_quadrant() -> None:
    s = Settings()
    assert sum(n for per in s.quotas.values() for n in per.values()) == 120
    assert {n for per in s.quotas.values() for n in per.values()} == {6}
    assert s.quadrants == ["North East", "Mid", "South", "West", "Countywide"]
    assert s.sampling.worker_cooldown_cycles == 1
    assert s.sampling.max_cases_per_worker == 1
    assert s.moderation.rate == 0.2
    assert s.reporting.suppression_threshold == 5


def test_example_settings_load() -> None:
    assert load_settings(EXAMPLE_TOML).quadrant_lookup()["northeastquadrant"] == "North East"


def _error(data: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, "qaudit.toml")
    return str(caught.value)


def test_unknown_key_is_named() -> None:
    message = _error({"sampling": {"cooldown": 2}})
    assert "sampling.cooldown" in message and "unknown setting" in message


def test_negative_quota_is_refused_with_its_key() -> None:
    quotas = Settings().quotas | {"Mid": {"mca_assessment": -1}}
    message = _error({"quotas": quotas})
    assert "quotas.Mid.mca_assessment" in message and "greater than or equal to 0" in message


def test_quota_for_unknown_quadrant_suggests_the_right_spelling() -> None:
    quotas = Settings().quotas | {"north east": {"mca_assessment": 2}}
    message = _error({"quotas": quotas})
    assert "'north east' is not a quadrant" in message and "did you mean 'North East'" in message


def test_quota_for_unknown_audit_type_lists_the_types() -> None:
    quotas = Settings().quotas | {"Mid": {"deep_dive": 2}}
    assert "care_act_assessment" in _error({"quotas": quotas})


def test_quadrant_without_quota_line_is_refused() -> None:
    quadrants = [*Settings().quadrants, "Islands"]
    assert "no quota line for 'Islands'" in _error({"quadrants": quadrants})


def test_wrong_type_is_named() -> None:
    assert "sampling.max_cases_per_worker" in _error({"sampling": {"max_cases_per_worker": "one"}})


def test_label_meaning_two_types_is_refused() -> None:
    types = Settings().model_dump()["audit_types"]
    types["care_act_review"]["labels"].append("care act assessment")
    assert "may mean only one audit type" in _error({"audit_types": types})


def test_unknown_column_field_lists_the_fields() -> None:
    assert "record_id" in _error({"columns": {"nhs_number": ["NHS"]}})


def test_a_column_set_in_the_file_replaces_only_its_own_defaults() -> None:
    s = parse_settings({"columns": {"person_id": ["Client Ref No"]}}, "x")
    assert s.columns["person_id"] == ["Client Ref No"]
    assert s.columns["record_id"] == DEFAULT_COLUMNS["record_id"]


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "qaudit.toml"
    path.write_text("quadrants = [\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(path)


def test_organisation_mailbox_must_look_like_an_address() -> None:
    message = _error({"organisation": {"mailbox": "pqt at example"}})
    assert "organisation.mailbox" in message
    ok = parse_settings({"organisation": {"mailbox": "pqt@example.org"}}, "qaudit.toml")
    assert ok.organisation.return_to == "Practice Quality Team (pqt@example.org)"


def test_ri_step_keys_are_checked() -> None:
    assert "ri.steps" in _error({"ri": {"steps": {"Bad Key!": "x"}}})
    assert "ri.steps" in _error({"ri": {"steps": {}}})


@pytest.mark.parametrize(("data", "key"), [
    ({"sampling": {"top_up_from_other_types": "no"}}, "sampling.top_up_from_other_types"),
    ({"sampling": {"exclude_previously_audited_persons": 0}},
     "sampling.exclude_previously_audited_persons"),
    ({"sampling": {"max_cases_per_worker": "3"}}, "sampling.max_cases_per_worker"),
    ({"moderation": {"rate": "0.2"}}, "moderation.rate"),
    ({"reporting": {"suppression_threshold": True}}, "reporting.suppression_threshold"),
])
def test_settings_are_not_coerced_from_the_wrong_type(data: dict[str, object], key: str) -> None:
    assert key in _error(data)


def test_an_empty_settings_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "qaudit.toml"
    path.write_text("  \n")
    with pytest.raises(ConfigError, match="is empty"):
        load_settings(path)


def test_a_password_in_the_mail_settings_is_refused_it_belongs_in_the_environment() -> None:
    message = _error({"mail": {"password": "hunter2"}})
    assert "mail.password: unknown setting" in message


@pytest.mark.parametrize(("data", "key"), [
    ({"mail": {"sender": "not an address"}}, "mail.sender"),
    ({"mail": {"reply_to": "a@b"}}, "mail.reply_to"),
    ({"mail": {"sender_name": "QA\r\nBcc: all@example.org"}}, "mail.sender_name"),
    ({"organisation": {"protective_marking": "OFFICIAL\nX-Evil: 1"}},
     "organisation.protective_marking"),
    ({"mail": {"security": "ssl"}}, "mail.security"),
    ({"mail": {"port": 0}}, "mail.port"),
    ({"people": {"network_list": ["spn@example.org", "nobody"]}}, "people.network_list.1"),
    ({"people": {"max_cases_per_auditor": 0}}, "people.max_cases_per_auditor"),
])
def test_mail_and_people_settings_that_could_misdirect_a_message_are_refused(
    data: dict[str, object], key: str
) -> None:
    assert f"  {key}" in _error(data)


def test_directors_must_be_of_a_known_quadrant() -> None:
    message = _error({"people": {"directors": {"Norht East": ["dir@example.org"]}}})
    assert "'Norht East' is not a quadrant" in message
    ok = parse_settings({"people": {"directors": {"Mid": ["dir@example.org"]}}}, "q")
    assert ok.people.directors == {"Mid": ["dir@example.org"]}


def test_staff_columns_set_in_the_file_replace_only_their_own_defaults() -> None:
    s = parse_settings({"staff": {"columns": {"email": ["Work Mail"]}}}, "q")
    assert s.staff.columns["email"] == ["Work Mail"]
    assert s.staff.columns["worker_id"][0] == "Worker ID"
    assert "unknown staff column field 'mobile'" in _error(
        {"staff": {"columns": {"mobile": ["Mobile"]}}})


def test_the_export_email_columns_are_known_by_their_usual_headers() -> None:
    columns = Settings().columns
    assert {"Worker Email", "Practitioner Email"} <= set(columns["worker_email"])
    assert {"Service Manager Email", "SM Email"} <= set(columns["service_manager_email"])


def test_a_settings_file_written_before_the_email_columns_gets_their_defaults() -> None:
    # A workspace made by an earlier qaudit lists only the nine fields it knew.
    older = {f: names for f, names in DEFAULT_COLUMNS.items() if not f.endswith("_email")}
    s = parse_settings({"columns": {**older, "worker_id": ["Staff No"]}}, "x")
    assert s.columns["worker_id"] == ["Staff No"]
    assert s.columns["worker_email"] == DEFAULT_COLUMNS["worker_email"]
    assert s.columns["service_manager_email"] == DEFAULT_COLUMNS["service_manager_email"]


def test_the_init_file_says_the_email_columns_are_optional_and_a_fallback() -> None:
    text = default_toml()
    assert "worker_email" in text and "service_manager_email" in text
    assert "may be absent" in text and "staff list" in text


def test_the_marking_is_an_organisation_setting_and_the_old_mail_key_still_reads() -> None:
    """Issue 14: the marking is on every workbook and report, not only on messages, so it
    lives under [organisation]; a qaudit.toml written before says it under [mail]."""
    assert parse_settings({}, "qaudit.toml").marking == "OFFICIAL-SENSITIVE"
    assert 'protective_marking = "OFFICIAL-SENSITIVE"' in default_toml().split("[mail]")[0]
    new = parse_settings({"organisation": {"protective_marking": "OFFICIAL"}}, "qaudit.toml")
    old = parse_settings({"mail": {"protective_marking": "OFFICIAL"}}, "qaudit.toml")
    assert new == old and old.marking == "OFFICIAL"
    same = {"protective_marking": "OFFICIAL"}
    assert parse_settings({"mail": same, "organisation": same},
                          "qaudit.toml").marking == "OFFICIAL"
    message = _error({"mail": {"protective_marking": "OFFICIAL"},
                      "organisation": {"protective_marking": "OFFICIAL-SENSITIVE"}})
    assert "set twice, differently" in message and "under [organisation]" in message
