"""Settings: the shape of ``qaudit.toml``, its defaults, validation and the commented file.

Precedence is resolved here and nowhere else: a value in ``qaudit.toml`` wins over the
default. Command-line flags that override a setting are applied by the command itself
(``--rate``, ``--seed``), never by editing the settings.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qaudit.errors import ConfigError
from qaudit.grading import DEFAULT_RI_STEPS, GRADES
from qaudit.values import normalise_label

CANONICAL_FIELDS: tuple[str, ...] = (
    "record_id",
    "person_id",
    "audit_type",
    "completed_date",
    "worker_id",
    "worker_name",
    "team",
    "service_manager",
    "quadrant",
    "worker_email",
    "service_manager_email",
)
#: Columns an export may lack at a cost ``allocate`` points out (forms then show the worker
#: id); every field not here or in ``EXPORT_EMAIL_FIELDS`` must be found.
OPTIONAL_FIELDS: frozenset[str] = frozenset({"worker_name"})
#: Email columns an export may carry, and may lack without a word: the staff list is where
#: addresses usually come from (``qaudit staff import``), and it wins where both give one.
EXPORT_EMAIL_FIELDS: tuple[str, ...] = ("worker_email", "service_manager_email")

DEFAULT_COLUMNS: dict[str, list[str]] = {
    "record_id": [
        "Record ID", "Workflow Step ID", "Step ID", "Form ID", "Work ID", "Episode ID",
    ],
    "person_id": [
        "Person ID", "Client ID", "Mosaic ID", "Service User ID", "Person Ref", "Client Ref",
    ],
    "audit_type": ["Audit Type", "Work Type", "Step Type", "Step Name", "Form Type", "Type"],
    "completed_date": [
        "Completed Date", "Date Completed", "Completion Date", "Completed", "End Date",
    ],
    "worker_id": ["Worker ID", "Worker Ref", "Practitioner ID", "Staff ID", "Employee ID"],
    "worker_name": ["Worker Name", "Worker", "Practitioner", "Practitioner Name", "Staff Name"],
    "team": ["Team", "Team Name", "Worker Team", "Organisation", "Org Name"],
    "service_manager": ["Service Manager", "Service Mgr", "SM", "Service Manager Name"],
    "quadrant": ["Quadrant", "Quadrant Name", "Area", "Locality"],
    "worker_email": [
        "Worker Email", "Practitioner Email", "Worker Email Address",
        "Practitioner Email Address", "Staff Email",
    ],
    "service_manager_email": [
        "Service Manager Email", "SM Email", "Service Mgr Email",
        "Service Manager Email Address",
    ],
}

#: The staff list's fields (``qaudit staff import``): who works where, their email, and who
#: manages them.
STAFF_FIELDS: tuple[str, ...] = (
    "worker_id", "name", "email", "team", "role", "line_manager", "line_manager_email",
    "service_manager", "service_manager_email",
)
#: Staff list columns that may be missing; worker id and name must be found.
OPTIONAL_STAFF_FIELDS: frozenset[str] = frozenset(STAFF_FIELDS) - {"worker_id", "name"}
DEFAULT_STAFF_COLUMNS: dict[str, list[str]] = {
    "worker_id": ["Worker ID", "Staff ID", "Employee ID", "Worker Ref", "Practitioner ID"],
    "name": ["Name", "Worker Name", "Full Name", "Staff Name", "Worker", "Practitioner"],
    "email": ["Email", "Email Address", "Work Email", "E-mail", "Worker Email"],
    "team": ["Team", "Team Name"],
    "role": ["Role", "Job Title", "Grade", "Position"],
    "line_manager": ["Line Manager", "Line Manager Name", "Manager"],
    "line_manager_email": ["Line Manager Email", "Manager Email"],
    "service_manager": ["Service Manager", "Service Manager Name", "SM"],
    "service_manager_email": ["Service Manager Email", "SM Email"],
}
#: An email address as settings accept it (the staff list is checked by email-validator).
EMAIL_PATTERN = r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$"
Email = Annotated[str, Field(max_length=254, pattern=EMAIL_PATTERN)]

DEFAULT_QUADRANTS: list[str] = ["North East", "Mid", "South", "West", "Countywide"]
DEFAULT_QUADRANT_LABELS: dict[str, str] = {
    "NE": "North East",
    "Mid Essex": "Mid",
    "CW": "Countywide",
    "County": "Countywide",
}

_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

#: "Senior Practitioner level or above": who may audit (the framework's methodology).
DEFAULT_AUDITOR_ROLES: tuple[str, ...] = (
    "Senior Practitioner", "Advanced Practitioner", "Practice Lead", "Team Manager",
    "Service Manager", "Principal Social Worker",
)
#: Excel keeps a drop-down's choices in one formula of at most 255 characters.
MAX_DROP_DOWN = 255


class Strict(BaseModel):
    """A settings or template model: unknown keys refused, values frozen."""

    # Strict: "no", 0, "3" or "0.2" where the setting is a true/false, a number or text is
    # a mistake to name, not a value to guess at.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class AuditTypeSettings(Strict):
    name: Annotated[str, Field(min_length=1, max_length=60)]
    short_name: Annotated[str, Field(max_length=16)] = ""
    labels: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    questions: str = ""


class SamplingSettings(Strict):
    worker_cooldown_cycles: Annotated[int, Field(ge=0, le=20)] = 1
    max_cases_per_worker: Annotated[int, Field(ge=1, le=50)] = 1
    exclude_previously_audited_persons: bool = True
    top_up_from_other_types: bool = True


class CycleSettings(Strict):
    return_days: Annotated[int, Field(ge=1, le=365)] = 28


class PlanSettings(Strict):
    """The year's plan (`qaudit plan`): how many cycles, each window how many weeks."""

    cycles: Annotated[int, Field(ge=1, le=26)] = 8
    weeks: Annotated[int, Field(ge=1, le=52)] = 6


class DeepDiveSettings(Strict):
    """Themed audits (`qaudit deep-dive`). Whether the people and records a deep dive drew
    are kept out of later regular draws, as a regular cycle's are."""

    block_later_draws: bool = True


class ReauditSettings(Strict):
    """Re-audits (`qaudit reaudit select`): whose later work is drawn after a Requires
    improvement audit (each practitioner, or each team), and how many regular cycles must
    pass after the audit first."""

    by: Literal["practitioner", "team"] = "practitioner"
    min_cycles: Annotated[int, Field(ge=0, le=26)] = 2


class ModerationSettings(Strict):
    rate: Annotated[float, Field(gt=0, le=1)] = 0.2


class ResourceLink(Strict):
    title: Annotated[str, Field(min_length=1, max_length=120)]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]


class RiSettings(Strict):
    steps: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,29}$")],
        Annotated[str, Field(min_length=1, max_length=200)],
    ] = Field(default_factory=lambda: dict(DEFAULT_RI_STEPS), min_length=1)


#: One line, nothing hidden: no control, zero-width or bidirectional character.
_NO_HIDDEN = r"^[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069]*$"


class OrganisationSettings(Strict):
    team: Annotated[str, Field(min_length=1, max_length=80)] = "Practice Quality Team"
    mailbox: Annotated[
        str, Field(max_length=120, pattern=r"^$|^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
    ] = ""
    #: On every workbook, report page and message qaudit writes (read from [mail] too,
    #: where it was first set: ``Settings._marking_once``).
    protective_marking: Annotated[str, Field(max_length=60, pattern=_NO_HIDDEN)] = (
        "OFFICIAL-SENSITIVE")

    @property
    def return_to(self) -> str:
        """Where forms go back to, as the forms say it."""
        return f"{self.team} ({self.mailbox})" if self.mailbox else self.team


class StaffSettings(Strict):
    columns: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_STAFF_COLUMNS.items()})

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, names in value.items():
            if key not in STAFF_FIELDS:
                raise ValueError(
                    f"unknown staff column field {key!r}; allowed: {', '.join(STAFF_FIELDS)}")
            if not names:
                raise ValueError(f"staff.columns.{key} needs at least one header name")
        return {f: list(value.get(f, DEFAULT_STAFF_COLUMNS[f])) for f in STAFF_FIELDS}


class MailSettings(Strict):
    """How messages go out (``qaudit send``): as drafts in the outbox, or through a relay."""

    sender: Annotated[str, Field(max_length=254, pattern=r"^$|" + EMAIL_PATTERN[1:])] = ""
    sender_name: Annotated[str, Field(max_length=80, pattern=r"^[^\r\n<>\"]*$")] = ""
    reply_to: Annotated[str, Field(max_length=254, pattern=r"^$|" + EMAIL_PATTERN[1:])] = ""
    host: Annotated[str, Field(max_length=253, pattern=r"^[A-Za-z0-9.\-]*$")] = ""
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    user: Annotated[str, Field(max_length=254)] = ""
    password_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")] = (
        "QAUDIT_SMTP_PASSWORD")
    escalate_after_days: Annotated[int, Field(ge=1, le=90)] = 7
    allowed_domains: list[Annotated[str, Field(
        max_length=253, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$"
    )]] = Field(default_factory=list)


class DatabaseSettings(Strict):
    """Where the record lives: empty, the workspace's own SQLite file (``qaudit.db``); or a
    team's PostgreSQL database (``qaudit db move-to`` moves it there)."""

    url: Annotated[str, Field(max_length=500)] = ""

    @field_validator("url")
    @classmethod
    def _postgresql_without_password(cls, value: str) -> str:
        if not value:
            return value
        from urllib.parse import parse_qs, urlsplit

        try:
            parts = urlsplit(value)
            _ = parts.port
        except ValueError as exc:
            raise ValueError(f"not a database address ({exc})") from exc
        if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
            raise ValueError("give a PostgreSQL address with its database, such as"
                             " postgresql://qa_officer@dbserver/qaudit")
        keys = parse_qs(parts.query, keep_blank_values=True)
        if parts.password is not None or any("password" in k.lower() for k in keys):
            raise ValueError("the address holds a password; take it out and put it in the"
                             " PGPASSWORD environment variable or your pgpass file instead")
        if any(ord(c) < 32 or c.isspace() for c in value):
            raise ValueError("the address holds a space or a control character")
        return value


class PeopleSettings(Strict):
    """Who receives what beyond the staff list, and the auditors' load."""

    directors: dict[str, list[Email]] = Field(default_factory=dict)
    countywide_directors: list[Email] = Field(default_factory=list)
    network_list: list[Email] = Field(default_factory=list)
    max_cases_per_auditor: Annotated[int, Field(ge=1, le=120)] = 4


class ReportingSettings(Strict):
    suppression_threshold: Annotated[int, Field(ge=1, le=100)] = 5
    resources: list[ResourceLink] = Field(default_factory=list)


def _default_audit_types() -> dict[str, AuditTypeSettings]:
    return {
        "care_act_assessment": AuditTypeSettings(
            name="Care Act assessment",
            short_name="CA assessment",
            labels=[
                "Care Act Assessment", "Care Act Needs Assessment", "Needs Assessment",
                "Carers Assessment", "Carer's Assessment",
            ],
        ),
        "care_act_review": AuditTypeSettings(
            name="Care Act review",
            short_name="CA review",
            labels=[
                "Care Act Review", "Care and Support Plan Review", "Review", "Annual Review",
            ],
        ),
        "mca_assessment": AuditTypeSettings(
            name="Mental Capacity Act assessment",
            short_name="MCA assessment",
            labels=[
                "Mental Capacity Assessment", "MCA Assessment", "MCA", "Capacity Assessment",
                "Best Interests Decision",
            ],
        ),
        "safeguarding_s42": AuditTypeSettings(
            name="Safeguarding concern / s42 enquiry",
            short_name="Safeguarding",
            labels=[
                "Safeguarding Enquiry (S42)", "S42 Enquiry", "Section 42 Enquiry",
                "Safeguarding Enquiry", "Safeguarding Concern", "Safeguarding Adults Enquiry",
            ],
        ),
    }


def _default_quotas() -> dict[str, dict[str, int]]:
    return {q: {t: 6 for t in _default_audit_types()} for q in DEFAULT_QUADRANTS}


class Settings(Strict):
    """Everything ``qaudit.toml`` can say. Unknown keys are refused."""

    quadrants: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=lambda: list(DEFAULT_QUADRANTS), min_length=1
    )
    quadrant_labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_QUADRANT_LABELS))
    audit_types: dict[str, AuditTypeSettings] = Field(
        default_factory=_default_audit_types, min_length=1
    )
    quotas: dict[str, dict[str, Annotated[int, Field(ge=0, le=10_000)]]] = Field(
        default_factory=_default_quotas
    )
    columns: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_COLUMNS.items()}
    )
    sampling: SamplingSettings = SamplingSettings()
    cycle: CycleSettings = CycleSettings()
    plan: PlanSettings = PlanSettings()
    deep_dives: DeepDiveSettings = DeepDiveSettings()
    reaudits: ReauditSettings = ReauditSettings()
    moderation: ModerationSettings = ModerationSettings()
    reporting: ReportingSettings = ReportingSettings()
    ri: RiSettings = RiSettings()
    organisation: OrganisationSettings = OrganisationSettings()
    staff: StaffSettings = StaffSettings()
    mail: MailSettings = MailSettings()
    people: PeopleSettings = PeopleSettings()
    database: DatabaseSettings = DatabaseSettings()
    grades: dict[str, str] = Field(default_factory=lambda: {g.key: g.descriptor for g in GRADES})
    auditor_roles: list[Annotated[str, Field(min_length=2, max_length=60,
                                             pattern=r"^[^,\"]+$")]] = Field(
        default_factory=lambda: list(DEFAULT_AUDITOR_ROLES), min_length=1)

    @field_validator("auditor_roles")
    @classmethod
    def _roles_fit_a_drop_down(cls, value: list[str]) -> list[str]:
        if len(",".join(value)) + 2 > MAX_DROP_DOWN:
            raise ValueError(f"the roles together are longer than the {MAX_DROP_DOWN}"
                             " characters an Excel drop-down holds; shorten or merge some")
        if len({normalise_label(r) for r in value}) != len(value):
            raise ValueError("a role is listed twice")
        return value

    @field_validator("quadrants")
    @classmethod
    def _unique_quadrants(cls, value: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for name in value:
            key = normalise_label(name)
            if not key:
                raise ValueError(f"quadrant name {name!r} has no letters or digits")
            if key in seen:
                raise ValueError(f"quadrants {seen[key]!r} and {name!r} are the same name")
            seen[key] = name
        return value

    @field_validator("audit_types")
    @classmethod
    def _audit_type_keys(
        cls, value: dict[str, AuditTypeSettings]
    ) -> dict[str, AuditTypeSettings]:
        owner: dict[str, str] = {}
        for key, spec in value.items():
            if not _KEY_RE.match(key):
                raise ValueError(
                    f"audit type key {key!r} must be lower-case letters, digits and _"
                )
            for label in [*spec.labels, spec.name, key]:
                norm = normalise_label(label)
                if norm in owner and owner[norm] != key:
                    raise ValueError(
                        f"label {label!r} is given for both {owner[norm]!r} and {key!r};"
                        " a label may mean only one audit type"
                    )
                owner[norm] = key
        return value

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, names in value.items():
            if key not in CANONICAL_FIELDS:
                raise ValueError(
                    f"unknown column field {key!r}; allowed: {', '.join(CANONICAL_FIELDS)}"
                )
            if not names:
                raise ValueError(f"columns.{key} needs at least one header name")
        # A field the file leaves out keeps its default spellings.
        return {f: list(value.get(f, DEFAULT_COLUMNS[f])) for f in CANONICAL_FIELDS}

    @field_validator("grades")
    @classmethod
    def _known_grades(cls, value: dict[str, str]) -> dict[str, str]:
        allowed = [g.key for g in GRADES]
        for key in value:
            if key not in allowed:
                raise ValueError(
                    f"unknown grade {key!r}; the framework's grades are {', '.join(allowed)}"
                )
        return {g.key: value.get(g.key, g.descriptor) for g in GRADES}

    @model_validator(mode="before")
    @classmethod
    def _marking_once(cls, data: Any) -> Any:
        """``[mail] protective_marking``, where the marking was first set, is read as
        ``[organisation] protective_marking``: it marks every workbook and report, not only
        messages. Set in both places differently, it is a mistake to name."""
        if not isinstance(data, dict) or not isinstance(data.get("mail"), dict):
            return data
        mail = dict(data["mail"])
        if "protective_marking" not in mail:
            return data
        old = mail.pop("protective_marking")
        organisation = data.get("organisation", {})
        if not isinstance(organisation, dict):
            return data
        organisation = dict(organisation)
        if organisation.setdefault("protective_marking", old) != old:
            raise ValueError(
                "the protective marking is set twice, differently: [organisation]"
                f" protective_marking = {organisation['protective_marking']!r} and [mail]"
                f" protective_marking = {old!r}. Keep the one under [organisation] and"
                " delete the other.")
        return {**data, "mail": mail, "organisation": organisation}

    @property
    def marking(self) -> str:
        """The protective marking (``[organisation] protective_marking``)."""
        return self.organisation.protective_marking

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        quadrant_keys = {normalise_label(q): q for q in self.quadrants}
        for label, target in self.quadrant_labels.items():
            if target not in self.quadrants:
                raise ValueError(
                    f"quadrant_labels: {label!r} points to {target!r}, which is not one of"
                    f" the quadrants ({', '.join(self.quadrants)})"
                )
        for quadrant, per_type in self.quotas.items():
            if quadrant not in self.quadrants:
                known = quadrant_keys.get(normalise_label(quadrant))
                hint = f" (did you mean {known!r}?)" if known else ""
                raise ValueError(
                    f"quotas: {quadrant!r} is not a quadrant{hint}; quadrants are"
                    f" {', '.join(self.quadrants)}"
                )
            for type_key in per_type:
                if type_key not in self.audit_types:
                    raise ValueError(
                        f"quotas.{quadrant!r}: {type_key!r} is not an audit type; audit types"
                        f" are {', '.join(self.audit_types)}"
                    )
        for quadrant in self.people.directors:
            if quadrant not in self.quadrants:
                raise ValueError(
                    f"people.directors: {quadrant!r} is not a quadrant; quadrants are"
                    f" {', '.join(self.quadrants)}")
        missing = [q for q in self.quadrants if q not in self.quotas]
        if missing:
            raise ValueError(
                f"quotas: no quota line for {', '.join(map(repr, missing))}; add one"
                " (use 0 for a type that is not audited there)"
            )
        return self

    # Derived views, computed on demand: the settings stay the single source of truth.
    def quota(self, quadrant: str, audit_type: str) -> int:
        return self.quotas.get(quadrant, {}).get(audit_type, 0)

    def audit_type_lookup(self) -> dict[str, str]:
        """Normalised export label → audit type key."""
        lookup: dict[str, str] = {}
        for key, spec in self.audit_types.items():
            for label in [key, spec.name, *spec.labels]:
                lookup[normalise_label(label)] = key
        return lookup

    def quadrant_lookup(self) -> dict[str, str]:
        """Normalised export label → quadrant name."""
        lookup = {normalise_label(q): q for q in self.quadrants}
        lookup.update({normalise_label(k): v for k, v in self.quadrant_labels.items()})
        return lookup

    def type_names(self) -> dict[str, str]:
        """Audit type key → the name forms and reports show."""
        return {k: v.name for k, v in self.audit_types.items()}

    def short_names(self) -> dict[str, str]:
        """Audit type key → the name terminal tables show."""
        return {k: v.short_name or v.name for k, v in self.audit_types.items()}

    def question_set_id(self, audit_type: str) -> str:
        return self.audit_types[audit_type].questions or audit_type


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if not str(p).startswith("function-")]
    return ".".join(parts) if parts else "(top level)"


def parse_settings(data: dict[str, Any], source: str) -> Settings:
    """Validate a parsed TOML document; raise one ConfigError listing every problem."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown setting; remove it or check its spelling (see `qaudit init`)"
            lines.append(f"  {_location(err['loc'])}: {msg}")
        raise ConfigError(
            f"{source} has {len(lines)} wrong setting(s):\n" + "\n".join(lines)
        ) from exc


def load_settings(path: Path) -> Settings:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if not raw.strip():
        raise ConfigError(
            f"{path} is empty, so no setting is known (quadrants, quotas, column names...)."
            " Restore it, or write the defaults with `qaudit init` in a new folder and copy"
            " its qaudit.toml here."
        )
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the line named.") from exc
    return parse_settings(data, str(path))


def default_toml() -> str:
    """The commented configuration ``qaudit init`` writes. Parses to ``Settings()``."""
    import tomlkit

    s = Settings()
    doc = tomlkit.document()

    def comments(container: Any, *lines: str) -> None:
        for line in lines:
            container.add(tomlkit.comment(line))

    def table(name: str, *lines: str) -> Any:
        section = tomlkit.table()
        comments(section, *lines)
        doc.add(tomlkit.nl())
        doc.add(name, section)
        return section

    comments(doc, "qaudit workspace settings.",
             "Every setting is shown with its default. Edit, save, and the next command uses it.",
             "A wrong setting stops every command with a message naming the key.")
    doc.add(tomlkit.nl())
    comments(doc, "The areas teams belong to. An export's quadrant column must name one of these",
             "(case, spaces and punctuation are ignored) or a label in [quadrant_labels].")
    doc.add("quadrants", list(s.quadrants))
    labels = table("quadrant_labels", "Other spellings of a quadrant found in exports:"
                   " label = quadrant.")
    labels.update(s.quadrant_labels)
    doc.add(tomlkit.nl())
    comments(doc, "The audit types. The key (e.g. care_act_assessment) is used everywhere else;",
             "`name` is shown on forms and reports, `short_name` in terminal tables;",
             "`labels` are the work type names in the export that mean this type;",
             "`questions` names the question set (templates/questions/<id>.toml; a workspace",
             "may hold its own copy in <workspace>/templates/questions/). Empty = the key.")
    types = tomlkit.table(is_super_table=True)
    for key, spec in s.audit_types.items():
        entry = tomlkit.table()
        entry.update(spec.model_dump())
        types.add(key, entry)
    doc.add("audit_types", types)
    quotas = table(
        "quotas",
        "Cases to draw each cycle, per quadrant and audit type (the framework: 120 a",
        "cycle across the quadrants and countywide services). Every quadrant needs a line;",
        "a type left out of a line gets 0.",
    )
    for quadrant, per_type in s.quotas.items():
        line = tomlkit.inline_table()
        line.update(per_type)
        quotas.add(quadrant, line)
    columns = table(
        "columns",
        "Header names that mean each field in a case export. Compared ignoring case,",
        "spaces, underscores and punctuation. A field you set here replaces its defaults.",
        "worker_name, worker_email and service_manager_email may be absent. The two emails,",
        "when present, are a fallback for `qaudit send` where the staff list has none (a",
        "value that is not an email address is left out, with a warning; the row is kept).",
    )
    columns.update(s.columns)
    sampling = table("sampling")
    comments(sampling,
             "A worker drawn in any of the last N cycles is not drawn (0 = no cool-down).")
    sampling.add("worker_cooldown_cycles", s.sampling.worker_cooldown_cycles)
    comments(sampling, "Most cases drawn for one worker in one cycle.")
    sampling.add("max_cases_per_worker", s.sampling.max_cases_per_worker)
    comments(sampling, "Never draw a person whose work was drawn in an earlier cycle.")
    sampling.add("exclude_previously_audited_persons",
                 s.sampling.exclude_previously_audited_persons)
    comments(sampling, "When a quadrant x type has too few eligible cases, fill the gap from the"
             " same", "quadrant's other types.")
    sampling.add("top_up_from_other_types", s.sampling.top_up_from_other_types)
    doc.add(tomlkit.nl())
    comments(doc, "Who may audit: 'Senior Practitioner level or above' (the framework). The",
             "auditor role drop-down of forms and Service Manager workbooks; add a local title",
             "(e.g. \"Senior Social Worker\") here. No commas; 255 characters in all.")
    doc.add("auditor_roles", list(s.auditor_roles))
    organisation = table("organisation", "Who forms go back to: shown on every form and"
                         " Service Manager workbook.",
                         "mailbox: the team's email address (blank = not shown).")
    organisation.add("team", s.organisation.team)
    organisation.add("mailbox", s.organisation.mailbox)
    comments(organisation, "protective_marking: printed on every workbook (header, footer and"
             " beside the title),", "every report page and every message's subject and body;"
             " blank = none.")
    organisation.add("protective_marking", s.organisation.protective_marking)
    staff = tomlkit.table()
    comments(staff, "Header names that mean each field of a staff list (`qaudit staff import`),",
             "compared as for [columns]. Only worker_id and name must be found.")
    staff.update(s.staff.columns)
    staff_super = tomlkit.table(is_super_table=True)
    staff_super.add("columns", staff)
    doc.add(tomlkit.nl())
    doc.add("staff", staff_super)
    mail = table("mail", "How `qaudit send` sends. Without --smtp, messages are drafts (.eml) in",
                 "cycles/<cycle>/outbox/, opened and sent from your own mailbox.",
                 "sender / sender_name / reply_to: blank = the [organisation] mailbox and team.",
                 "The SMTP password is read from the environment variable named by",
                 "password_env (or the OS keyring), never from this file.")
    for key in ("sender", "sender_name", "reply_to", "host", "port", "security", "user",
                "password_env"):
        mail.add(key, getattr(s.mail, key))
    comments(mail, "A second reminder of an overdue return goes to the Service Manager only"
             " this", "many days after the first.")
    mail.add("escalate_after_days", s.mail.escalate_after_days)
    comments(mail, "The only domains personal data may be sent to, lower case (a subdomain of one",
             'counts), e.g. ["example.gov.uk", "nhs.net"]. An address elsewhere (a typo such',
             "as gmial.com, a private mailbox) is held, never sent. Empty = any domain.")
    mail.add("allowed_domains", tomlkit.array())
    people = table("people", "Who receives the quadrant outcome reports and the highlights, and"
                   " the most", "cases one auditor should be named for in a cycle.",
                   'directors: quadrant = [addresses], e.g. "North East" = ["dir@example.org"].')
    people.add("directors", tomlkit.table())
    people.add("countywide_directors", tomlkit.array())
    people.add("network_list", tomlkit.array())
    people.add("max_cases_per_auditor", s.people.max_cases_per_auditor)
    database = table("database", "Where the record lives. Blank: qaudit.db in this folder (one"
                     " officer at a time).", "A team's PostgreSQL database, e.g."
                     ' "postgresql://qa_officer@dbserver/qaudit": set by',
                     "`qaudit db move-to`. The password goes in PGPASSWORD or your pgpass file,"
                     " never here.")
    database.add("url", s.database.url)
    cycle = table("cycle", "Returns are due this many days after the draw, unless"
                  " `allocate --due` says.")
    cycle.add("return_days", s.cycle.return_days)
    plan = table("plan", "The year's plan (`qaudit plan YEAR --start DATE`): this many cycles a"
                 " year, each", "window this many weeks; the year's target is cycles x the sum"
                 " of [quotas].")
    plan.add("cycles", s.plan.cycles)
    plan.add("weeks", s.plan.weeks)
    deep_dives = table("deep_dives", "Themed audits (`qaudit deep-dive new`): keep the people and"
                       " records a deep dive drew", "out of later regular draws, as a regular"
                       " cycle's are.")
    deep_dives.add("block_later_draws", s.deep_dives.block_later_draws)
    reaudits = table("reaudits", "Re-audits (`qaudit reaudit select`): one later case for each"
                     ' "practitioner" (or "team")', "whose audit was graded Requires"
                     " improvement, once its corrective action is recorded",
                     "and this many regular cycles have passed.")
    reaudits.add("by", s.reaudits.by)
    reaudits.add("min_cycles", s.reaudits.min_cycles)
    moderation = table("moderation", "Share of each cycle's returned audits moderated by the"
                       " Practice Leads.")
    moderation.add("rate", s.moderation.rate)
    reporting = table("reporting", "Published reports suppress counts from 1 to this number"
                      " minus one.")
    reporting.add("suppression_threshold", s.reporting.suppression_threshold)
    comments(reporting, "Practice resources listed at the end of reports, e.g.",
             'resources = [{ title = "Eligibility guide", url = "https://example.org/guide" }]')
    reporting.add("resources", tomlkit.array())
    steps = tomlkit.table()
    comments(steps, "Follow-up of every 'Requires improvement' audit: each step below must be",
             "recorded (`qaudit ri record REF --step KEY`) before it can be closed.",
             "key = what the step is; keys are lower-case letters, digits and -.")
    steps.update(s.ri.steps)
    ri = tomlkit.table(is_super_table=True)
    ri.add("steps", steps)
    doc.add(tomlkit.nl())
    doc.add("ri", ri)
    grades = table("grades", "The framework's four grades and the descriptor shown beside the"
                   " grade on forms.", "The keys are fixed; the wording may be adapted.")
    grades.update(s.grades)
    return tomlkit.dumps(doc)
