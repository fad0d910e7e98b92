"""Email addresses: checked for form, and found for a person in the staff list.

Every address a message goes to passes ``checked_address`` (email-validator, no DNS
look-up), whatever stored it: a staff list row, a Service Manager's workbook, a case
export or the settings. A person with no usable address is never skipped in silence:
``Directory`` says why (``Found.problem``) and the send job lists it.

The staff list wins. Only where it has no email for a practitioner or a Service Manager
does ``Directory`` take the one a case export gave (stored with the allocations; the most
recently drawn cycle's first), so a team without a staff list can still send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Concatenate, ParamSpec

from qaudit.db.mail import Contact
from qaudit.values import (
    HIDDEN_IN_TEXT,
    NotAnEmail,
    checked_email,
    in_domains,
    normalise_id,
    person_key,
)

_LINE_BREAKS = re.compile(r"[\r\n\t\x0b\x0c\x85\u2028\u2029]+")


def checked_address(text: str) -> str | None:
    """The address ``text`` holds in its one stored spelling, or None if it is not one
    qaudit can send to (``values.checked_email``, the rule every address passes, whoever
    stored it)."""
    try:
        return checked_email(text) if text.strip() else None
    except NotAnEmail:
        return None


def one_line(text: str, limit: int = 200) -> str:
    """Text fit for a header or a table cell: one line, no control characters, no encoded
    word (``no_encoded_words``), bounded."""
    text = HIDDEN_IN_TEXT.sub("", _LINE_BREAKS.sub(" ", text))
    return no_encoded_words(" ".join(text.split()))[:limit]


def no_encoded_words(text: str) -> str:
    """``text`` with no opening of an RFC 2047 encoded word (``=?``; it becomes ``= ?``).
    A name, subject or file name is text, never encoded: given ``=?utf-8?q?Ann=0D=0ABcc:
    _x@example.org?=``, the email package (before CVE-2024-6923 was fixed) decodes it and
    writes its CR LF as they are, and the draft gains a Bcc of the sender's choosing."""
    return text.replace("=?", "= ?")


def clean_text(text: str, limit: int = 20_000) -> str:
    """Text a person typed, fit for a message: line breaks kept, control characters gone."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return HIDDEN_IN_TEXT.sub("", text)[:limit]


@dataclass(frozen=True)
class Addressee:
    """Someone a message goes to: their name as known (may be blank) and checked address."""

    name: str
    address: str
    role: str  # service manager, auditor, practitioner, line manager, director, network


@dataclass(frozen=True)
class Found:
    """A person's address, or why there is none."""

    addressee: Addressee | None
    problem: str = ""


def _found(name: str, raw: str, role: str, where: str) -> Found:
    address = checked_address(raw)
    if address is None:
        return Found(None, f"{where} gives {one_line(raw, 80)!r}, which is not an email"
                     " address")
    return Found(Addressee(one_line(name), address, role))


def _exported(rows: Sequence[Contact], email: Callable[[Contact], str], role: str,
              name: str, whose: str) -> Found | None:
    """The one address the latest case export that gives any gives for someone (``rows`` are
    theirs, latest cycle first); None if no export gives one."""
    given = [r for r in rows if email(r).strip()]
    if not given:
        return None
    cycle = given[0].export_cycle
    latest = [email(r) for r in given if r.export_cycle == cycle]
    found = {checked_address(e) for e in latest}
    where = f"the case export of cycle {one_line(cycle, 40)!r}"
    if None in found:
        bad = next(e for e in latest if checked_address(e) is None)
        return Found(None, f"the staff list has no email for {whose}, and {where} gives"
                     f" {one_line(bad, 80)!r}, which is not an email address")
    if len(found) > 1:
        return Found(None, f"the staff list has no email for {whose}, and {where} gives"
                     f" {len(found)} different emails; add the right one to the staff list")
    return Found(Addressee(one_line(name), str(found.pop()), role))


P = ParamSpec("P")


def _within_domains(method: Callable[Concatenate[Directory, P], Found]
                    ) -> Callable[Concatenate[Directory, P], Found]:
    """Whatever way an address is found, it is held if it is outside ``[mail]
    allowed_domains``: a typo (gmial.com) or a private mailbox never gets personal data."""

    def checked(self: Directory, /, *args: P.args, **kwargs: P.kwargs) -> Found:
        return self.allowed(method(self, *args, **kwargs))

    checked.__doc__ = method.__doc__
    return checked


class Directory:
    """The staff list, looked up by worker id and by name; and, where it has no email, the
    emails the case exports gave (contacts with ``export_cycle``)."""

    def __init__(self, contacts: Sequence[Contact], allowed_domains: Sequence[str] = ()
                 ) -> None:
        self._domains = tuple(d.casefold() for d in allowed_domains)
        staff = [c for c in contacts if not c.from_export]
        self._by_id = {normalise_id(c.worker_id): c for c in staff}
        self._by_name: dict[str, list[Contact]] = {}
        for contact in staff:
            self._by_name.setdefault(person_key(contact.name), []).append(contact)
        self._contacts = tuple(staff)
        self._exported_workers: dict[str, list[Contact]] = {}
        self._exported_managers: dict[str, list[Contact]] = {}
        for contact in contacts:
            if contact.from_export:
                self._exported_workers.setdefault(
                    normalise_id(contact.worker_id), []).append(contact)
                self._exported_managers.setdefault(
                    person_key(contact.service_manager), []).append(contact)

    def allowed(self, found: Found) -> Found:
        """``found``, or why its address may not be used: outside the allowed domains."""
        if found.addressee is None or in_domains(found.addressee.address, self._domains):
            return found
        return Found(None, f"{found.addressee.address} is outside the domains personal data"
                     f" may go to ([mail] allowed_domains: {', '.join(self._domains)}); correct"
                     " it in the staff list or the Service Manager's workbook, or add the"
                     " domain")

    def worker(self, worker_id: str) -> Contact | None:
        return self._by_id.get(normalise_id(worker_id))

    @_within_domains
    def by_name(self, name: str, role: str) -> Found:
        """The one address the staff list holds for people of this name."""
        people = self._by_name.get(person_key(name), [])
        with_email = [c for c in people if c.email.strip()]
        if not people:
            return Found(None, f"{one_line(name, 80)!r} is not in the staff list")
        if not with_email:
            return Found(None, f"the staff list has no email for {one_line(name, 80)!r}")
        found = {checked_address(c.email) for c in with_email}
        if None in found:
            bad = next(c.email for c in with_email if checked_address(c.email) is None)
            return Found(None, f"the staff list gives {one_line(bad, 80)!r} for"
                         f" {one_line(name, 80)!r}, which is not an email address")
        if len(found) > 1:
            return Found(None, f"the staff list has {len(with_email)} people called"
                         f" {one_line(name, 80)!r} with different emails; qaudit cannot tell"
                         " which is meant")
        return Found(Addressee(one_line(name), str(found.pop()), role))

    @_within_domains
    def practitioner(self, worker_id: str, name: str) -> Found:
        """A practitioner by worker id: the staff list's email, else the case export's."""
        contact = self.worker(worker_id)
        label = f"worker {one_line(worker_id, 40)}"
        if contact is not None and contact.email.strip():
            return _found(contact.name or name, contact.email, "practitioner",
                          f"the staff list's email for {label}")
        exported = _exported(self._exported_workers.get(normalise_id(worker_id), []),
                             lambda c: c.email, "practitioner",
                             contact.name if contact and contact.name else name, label)
        if exported is not None:
            return exported
        if contact is None:
            return Found(None, f"{label} is not in the staff list")
        return Found(None, f"the staff list has no email for {label}")

    @_within_domains
    def line_manager(self, worker_id: str) -> Found:
        contact = self.worker(worker_id)
        label = f"worker {one_line(worker_id, 40)}"
        if contact is None:
            return Found(None, f"{label} is not in the staff list, so their line manager is"
                         " not known")
        if contact.line_manager_email.strip():
            return _found(contact.line_manager, contact.line_manager_email, "line manager",
                          f"the staff list's line manager email for {label}")
        if contact.line_manager.strip():
            return self.by_name(contact.line_manager, "line manager")
        return Found(None, f"the staff list names no line manager for {label}")

    @_within_domains
    def service_manager(self, name: str, worker_ids: Iterable[str]) -> Found:
        """A Service Manager by name: their own row of the staff list, else the Service
        Manager email of the rows of their practitioners (or of anyone who names them)."""
        key = person_key(name)
        if any(c.email.strip() for c in self._by_name.get(key, [])):
            return self.by_name(name, "service manager")
        rows = [c for c in self._contacts if person_key(c.service_manager) == key]
        rows += [c for w in worker_ids if (c := self.worker(w)) is not None
                 and not c.service_manager.strip()]
        given = [c.service_manager_email for c in rows if c.service_manager_email.strip()]
        if not given:
            exported = _exported(self._exported_managers.get(key, []),
                                 lambda c: c.service_manager_email, "service manager", name,
                                 f"Service Manager {one_line(name, 80)!r}")
            if exported is not None:
                return exported
            return Found(None, f"the staff list has no email for Service Manager"
                         f" {one_line(name, 80)!r} (neither their own row nor a Service"
                         " Manager email on their practitioners' rows)")
        found = {checked_address(e) for e in given}
        if None in found:
            bad = next(e for e in given if checked_address(e) is None)
            return Found(None, f"the staff list gives {one_line(bad, 80)!r} as the email of"
                         f" Service Manager {one_line(name, 80)!r}, which is not an email"
                         " address")
        if len(found) > 1:
            return Found(None, f"the staff list gives {len(found)} different emails for"
                         f" Service Manager {one_line(name, 80)!r}; correct it so one is"
                         " given")
        return Found(Addressee(one_line(name), str(found.pop()), "service manager"))

    @_within_domains
    def auditor(self, name: str, email: str) -> Found:
        """The auditor a Service Manager named: the email they gave, else the staff list's."""
        if email.strip():
            return _found(name, email, "auditor", "the Service Manager's workbook")
        found = self.by_name(name, "auditor")
        if found.addressee is None:
            return Found(None, f"no email for auditor {one_line(name, 80)!r}: the Service"
                         f" Manager's workbook gave none, and {found.problem}")
        return found
