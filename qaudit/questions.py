"""Audit question sets: one versioned TOML file per audit type, under the four aspects.

The sets ship in ``templates/questions/``; a workspace overrides one by keeping its own
copy in ``<workspace>/templates/questions/<id>.toml``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from qaudit.config import Strict
from qaudit.errors import QuestionSetError
from qaudit.resources import package_templates

ASPECTS: dict[str, str] = {
    "voice": "The person's participation and voice",
    "practice": "Quality of practice",
    "impact": "Impact of practice",
    "recording": "Quality of recording",
}
_QUESTION_ID = re.compile(r"^[A-Z]{1,3}[0-9]{1,2}$")


class Question(Strict):
    id: str
    text: Annotated[str, Field(min_length=5, max_length=250)]
    guidance: Annotated[str, Field(max_length=200)] = ""


class Aspect(Strict):
    key: str
    title: str
    questions: list[Question] = Field(min_length=1)


class QuestionSet(Strict):
    id: str
    version: Annotated[str, Field(min_length=1, max_length=20)]
    title: str
    audit_type: str
    law: str = ""
    aspects: list[Aspect]

    @model_validator(mode="after")
    def _shape(self) -> QuestionSet:
        keys = [a.key for a in self.aspects]
        if keys != list(ASPECTS):
            raise ValueError(
                f"aspects must be {', '.join(ASPECTS)} in that order, found {', '.join(keys)}"
            )
        seen: set[str] = set()
        for question in self.questions:
            if not _QUESTION_ID.match(question.id):
                raise ValueError(
                    f"question id {question.id!r} must be 1-3 capital letters and 1-2 digits"
                )
            if question.id in seen:
                raise ValueError(f"question id {question.id!r} is used twice")
            seen.add(question.id)
        return self

    @property
    def questions(self) -> list[Question]:
        return [q for a in self.aspects for q in a.questions]

    @cached_property
    def digest(self) -> str:
        """Hash of the content as issued: forms carry it so returns can be matched (worked
        out once: the set is frozen, and ingest asks twice a form)."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def question_set_path(set_id: str, workspace_templates: Path | None) -> Path:
    if workspace_templates is not None:
        own = workspace_templates / "questions" / f"{set_id}.toml"
        if own.is_file():
            return own
    path = package_templates() / "questions" / f"{set_id}.toml"
    if not path.is_file():
        raise QuestionSetError(
            f"no question set {set_id!r}: expected {path.name} in templates/questions of the"
            " workspace or of qaudit. Check `questions` under [audit_types] in qaudit.toml."
        )
    return path


def load_question_set(set_id: str, workspace_templates: Path | None = None) -> QuestionSet:
    return _load(question_set_path(set_id, workspace_templates))


def _load(path: Path) -> QuestionSet:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return QuestionSet.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise QuestionSetError(f"{path} is not valid TOML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'top level'}: {e['msg']}" for e in exc.errors()
        )
        raise QuestionSetError(f"{path} is not a valid question set: {problems}") from exc
