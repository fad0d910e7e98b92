"""Keeping people out of what is shared (scrubbing names and ids from free text, keyed
pseudonyms, coarsened dates with k-anonymity), and keyed signatures, so what a form says
about itself cannot be edited undetected.

Pure: the key, the identifiers and the names come from the caller (the workspace keeps the
key; the database knows the identifiers and names).

Scrubbing works on a normalised view of the text (NFKC, zero-width and bidi controls
removed, accents folded: "José" = "Jose", "Ni<zero-width space>amh" = "Niamh"), matches
ignoring case, and maps each match back to the text as written, so the output keeps the
original text except the removed spans. What is removed:

- every known id and email address (glued to a word too: "ID1234503", "W85396's"), and
  anything that looks like one (six or more digits; one to three letters and five or more
  digits; a phone or NHS number; an email address, known or not, also written
  "jo.bloggs [at] example [dot] org");
- every allocation reference (``<cycle slug>-NNN``, for known cycles and in the usual shape
  "H1-006");
- a title and the capitalised words after it, known or not ("Mrs Patel", "Mr. Brown");
- every known full name, in order, "Surname, First", or first and last only (what a staff
  list holds where nobody is named, "Vacant", "TBC", is not a name);
- a lone part of a known name, as a whole word: a part that is not a common English word
  wherever it appears (two-letter parts when capitalised); a part that is a common word
  ("Will", "May", "Mark", "Grace") only when capitalised mid-sentence and preceded by a
  title or an initial, or next to another part of the same person's name.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from qaudit.values import cycle_slug, parse_date

PLACEHOLDER = "(removed)"
#: Ids shorter than this are not scrubbed (they would match ordinary numbers and words).
MIN_LENGTH = 3
#: Name parts shorter than this are not names ("A." is an initial).
MIN_PART = 2

#: Titles, as written (case matters: "Miss Hale" is a title, "did not miss" is not).
TITLES = frozenset({
    "Mr", "Mrs", "Ms", "Miss", "Mx", "Dr", "Prof", "Professor", "Sir", "Dame", "Lady", "Lord",
    "Rev", "Revd", "Reverend", "Fr", "Cllr", "Councillor",
})
_TITLES_FOLDED = frozenset(t.casefold() for t in TITLES)

#: Words in people's names fields that are not names ("Team manager", "Dr", "Jr").
_NOT_NAMES = frozenset({
    "team", "manager", "service", "senior", "practitioner", "the", "and", "social", "worker",
    "lead", "practice", "advanced", "principal", "assistant", "deputy", "head", "officer",
    "duty", "acting", "unknown", "none", "tbc", "na", "jr", "snr", "jnr", "sr",
    "vacant", "vacancy", "interim", "tba", "locum", "agency", "confirmed",
}) | _TITLES_FOLDED

#: What a staff list or a form holds where nobody is named ("Vacant", "TBC", "(none)"), its
#: words only: not a person, and scrubbing it would only blur the text ("it was vacant").
_NOBODY = frozenset({
    "vacant", "vacancy", "vacant post", "post vacant", "interim", "tbc", "tba",
    "to be confirmed", "none", "n a", "na", "nil", "unknown", "not known", "agency", "locum",
})

#: Common English words that are also names (first names and surnames). A lone name part
#: that is one of these is removed only in a context that makes it a name: capitalised
#: mid-sentence after a title or an initial, or next to another part of the same name.
_COMMON_WORDS_TEXT = """
    a am an as at be by do go he hi if in is it me my no of oh ok on or so to up us we
    all and any are art ash bay bee big bob bud but can day did dot eve few for fox gay get
    guy had has hay her him his how its jay joy kit lee let man may max new nor not now old
    one our out own pat pen ray red rob rod say see she sky son sue sum sun the too two use
    was way who why win yet you
    able amber angel april august autumn baker bank banks barber bell belle berry best bill
    birch bird bishop black bliss blossom bond bone booth bow brook brooks brown buck bush
    butcher butler candy carter chance chase cherry child church clay cliff coal cook cooper
    coral cotton crane cross crystal dale dawn dean december dell diamond dolly drake drew
    duke dusty earl early east ebony eden fair faith fern field fields finch fish flower
    ford forest fortune foster frank free friday gale gene ginger glass glen gold golden
    good grace grant gray green grey guard hall hardy harmony hart hawk hazel heath heather
    hill hills hood hope house hunt hunter iris ivy jack jade jasmine jean jewel june july
    king kitty knight lake lamb lance lane laurel lily little lock long lord love major
    march mark marshall mason meadow mercy miles mill mills misty monday moon moore moss
    nick noble north norm november oak october olive opal page park parks parson patience
    pearl penny pepper pierce pike pink pool poppy porter potter power price prince rain
    raven reed rich rivers robin rock rose rosemary ruby rush rusty sage sally sandy
    saturday scarlet sharp shepherd short silver small smith snow south spark sparrow spring
    stark steel sterling stone storm story street strong summer sunday sunny swan sweet
    swift tanner thursday tuesday victor violet wade walker wall walls ward warren waters
    wednesday weaver wells west white wild will willow winter wise wolf wood woods worth
    wren young january february september holly
    bridge carol case castle chapel charity christmas court daisy doctor don easter frost
    gates hand holiday honor honour judge key keys law night nurse rice river rowan star
    tower
    england english wales welsh scotland ireland irish france french holland london york
    kent lincoln preston chester derby
    adequate outstanding mid county countywide
"""
COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())

#: Capitalised words that are never the second word of a name after a title.
_NOT_AFTER_TITLE_TEXT = """
    a an and as at but by for from i in is it of on or so the to was we with you he she they
    monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december said says agreed visited
"""
_NOT_AFTER_TITLE = frozenset(_NOT_AFTER_TITLE_TEXT.split())

# --- normalisation -----------------------------------------------------------------------

_FOLD_TABLE = str.maketrans({
    "’": "'", "‘": "'", "ʼ": "'", "´": "'", "′": "'", "‛": "'",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "−": "-",
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D",
    "ħ": "h", "Ħ": "H", "ı": "i", "ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe",
    "Œ": "OE", "þ": "th", "Þ": "Th",
})


@lru_cache(maxsize=8192)
def _fold_cluster(cluster: str) -> str:
    """One character with its combining marks, compatibility-decomposed, without accents or
    format characters (zero-width, bidi controls, soft hyphen), recomposed."""
    decomposed = unicodedata.normalize("NFKD", cluster)
    kept = "".join(c for c in decomposed
                   if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFC", kept.translate(_FOLD_TABLE))


def _clusters(text: str) -> Iterator[tuple[int, int]]:
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.combining(text[j]):
            j += 1
        yield i, j
        i = j


@dataclass(frozen=True)
class _Folded:
    """The normalised view of a text, and where each of its characters came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original(self, start: int, end: int) -> tuple[int, int]:
        return self.starts[start], self.ends[end - 1]


def _fold_with_map(text: str) -> _Folded:
    if text.isascii():
        positions = tuple(range(len(text)))
        return _Folded(text, positions, tuple(i + 1 for i in positions))
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, j in _clusters(text):
        for c in _fold_cluster(text[i:j]):
            chars.append(c)
            starts.append(i)
            ends.append(j)
    return _Folded("".join(chars), tuple(starts), tuple(ends))


def normalise(text: str) -> str:
    """The text as scrubbing compares it: NFKC, no zero-width or bidi control characters,
    accents folded ("José" -> "Jose"), curly apostrophes and hyphens made plain."""
    return text if text.isascii() else "".join(_fold_cluster(text[i:j])
                                               for i, j in _clusters(text))


def _key(word: str) -> str:
    """How a name part is looked up: letters only, case folded."""
    return re.sub(r"[-'\s.]", "", normalise(word)).casefold()


# --- names -------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+|'(?!s(?![^\W\d_]))[^\W\d_]+)*")
_LETTER_BEFORE = r"(?<![^\W\d_])"
_LETTER_AFTER = r"(?![^\W\d_])"
#: Between the words of a full name: spaces, and any middle initials.
_NAME_GAP = r"(?:\s+(?:(?-i:[A-Z])\.?\s*)*)"
_INITIAL_BEFORE = re.compile(r"(?:(?<![^\W\d_])(?:[A-Z]\.\s*|[B-HJ-Z]\s+))+$")
_TITLE_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")\.?\s+$")


def _name_words(name: str) -> list[str]:
    """The words of a name that are names: no titles, initials or role words."""
    return [w for w in _WORD.findall(normalise(name))
            if len(_key(w)) >= MIN_PART and _key(w) not in _NOT_NAMES]


def _parts_of(word: str) -> set[str]:
    """A name word and the pieces of it written alone: "Smith-Jones" -> Smith, Jones;
    "O'Connell" -> Connell."""
    parts = {word}
    if "-" in word:
        parts.update(p for p in word.split("-") if len(_key(p)) >= MIN_PART)
    if "'" in word:
        tail = word.rsplit("'", 1)[1]
        if len(_key(tail)) >= MIN_LENGTH:
            parts.add(tail)
    return {p for p in parts if _key(p) not in _NOT_NAMES}


_SEPARATOR = r"(?:[-']|\s+)?"


def _word_units(word: str) -> tuple[str, ...]:
    """A name word as regex units, however its hyphens and apostrophes were typed
    ("O'Connell", "O Connell", "OConnell"; "Smith-Jones", "Smith Jones")."""
    units: list[str] = []
    for piece in (p for p in re.split(r"[-'\s]+", word) if p):
        if units:
            units.append(_SEPARATOR)
        units += [re.escape(c) for c in piece.lower()]
    return tuple(units)


def _trie(sequences: Iterable[Sequence[str]]) -> str:
    """One regex matching any of the sequences of regex units, longest first, built as a
    trie so that thousands of ids cost little more than a few (Python's alternation tries
    each branch in turn)."""
    root: dict[str, dict[str, Any]] = {}
    for sequence in sequences:
        node = root
        for unit in sequence:
            node = node.setdefault(unit, {})
        node[""] = {}

    def emit(node: dict[str, dict[str, Any]]) -> str:
        branches = [unit + emit(child) for unit, child in node.items() if unit]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(root)


def is_common_word(word: str) -> bool:
    return _key(word) in COMMON_WORDS


def _nobody(name: str) -> bool:
    return " ".join(re.findall(r"[^\W\d_]+", normalise(name).casefold())) in _NOBODY


def _people(names: Iterable[str], roles: Iterable[str]) -> list[str]:
    not_people = {" ".join(normalise(r).casefold().split()) for r in roles}
    return sorted({n.strip() for n in names
                   if n and n.strip() and not _nobody(n)
                   and " ".join(normalise(n).casefold().split()) not in not_people})


def identifiers_to_scrub(
    identifiers: Iterable[str], names: Iterable[str], roles: Iterable[str]
) -> list[str]:
    """What never appears in anything published, in any case, longest first: every id,
    every person's full name, and every part of a name that is not a common English word.

    "Ms Adeyemi" or "Niamh" alone must go too, so every distinctive part of a person's name
    counts; a part that is also a common word ("Will", "May", "Mark") is removed only in a
    context that makes it a name (see ``scrubber``), so it is not listed here. A role typed
    where a name was expected ("Team manager") is not a person, and scrubbing it would only
    blur the text.
    """
    people = _people(names, roles)
    parts = {p for n in people for w in _name_words(n) for p in _parts_of(w)
             if len(_key(p)) >= MIN_LENGTH and not is_common_word(p)}
    values = {" ".join(v.split()) for v in identifiers if v} | set(people) | parts
    return sorted((v for v in values if len(v) >= MIN_LENGTH), key=len, reverse=True)


# --- the scrubber ------------------------------------------------------------------------

_GENERIC_IDS = re.compile(
    r"(?<![^\W_])[A-Za-z]{1,3}\d{5,}(?!\d)"  # W85396, ID1234503
    r"|(?<!\d)\d{6,}(?!\d)"  # 394438, 2000008
    r"|(?<![\d+])(?:\+44\s?|0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}(?!\d)"  # 01234 567890
    r"|(?<!\d)\d{3}[ -]\d{3}[ -]\d{4}(?!\d)"  # 943 476 5919 (an NHS number)
)
_AT = r"(?:[ \t]*@[ \t]*|[ \t]*[\[({][ \t]*(?i:at)[ \t]*[\])}][ \t]*)"
_DOT = r"(?:\.|[ \t]*[\[({][ \t]*(?i:dot)[ \t]*[\])}][ \t]*)"
#: An email address, known or not, and as people disguise one: "o'connell@example.org",
#: "jo.bloggs @ example.org", "jo.bloggs[at]example(dot)org"; its last label has a letter
#: ("3 @ 5.5" is not one).
_EMAIL = re.compile(r"(?<![\w.+%-])[\w%+-](?:[\w.+'%-]*[\w%+-])?" + _AT
                    + r"[\w-]+(?:" + _DOT + r"[\w-]+)*" + _DOT + r"[^\W\d_][\w-]*")
_GENERIC_REFERENCE = re.compile(
    r"(?<![^\W_])(?:\d{4}[-/]\d{2}[-\s]?)?[A-Za-z]{1,3}\d{1,2}-\d{3}(?!\d)")


def _boundaries(value: str) -> tuple[str, str]:
    """An id is whole: not part of a longer number, or of a longer word; but an id glued to
    letters ("ID1234503") or a number glued to an id ("W85396's") still counts."""
    before = (r"(?<!\d)" if value[0].isdigit()
              else r"(?<![^\W_])" if value[0].isalpha() else "")
    after = (r"(?!\d)" if value[-1].isdigit()
             else r"(?![^\W_])" if value[-1].isalpha() else "")
    return before, after


def _ids_pattern(values: Iterable[str]) -> str:
    by_boundary: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for value in values:
        units: list[str] = []
        for word in value.split():
            if units:
                units.append(r"\s+")
            units += [re.escape(c) for c in word.lower()]
        by_boundary.setdefault(_boundaries(value), []).append(tuple(units))
    return "|".join(f"{before}(?:{_trie(seqs)}){after}"
                    for (before, after), seqs in sorted(by_boundary.items()))


def _reference_pattern(cycle: str) -> str:
    pieces = [p for p in cycle_slug(normalise(cycle)).split("-") if p]
    sep = r"[-\s_/.]?"
    return r"(?<![^\W_])" + sep.join(re.escape(p) for p in pieces) + sep + r"\d{3,}(?!\d)"


def _compiled(pattern: str) -> re.Pattern[str] | None:
    return re.compile(pattern, re.IGNORECASE) if pattern else None


@dataclass(frozen=True)
class _Part:
    persons: frozenset[int]
    common: bool
    short: bool


def _capitalised(word: str) -> bool:
    """Written with a capital, or in a script without case (so a Chinese name counts)."""
    return bool(word) and not word[0].islower()


def _sentence_start(text: str, start: int) -> bool:
    """Whether a word at ``start`` begins a sentence, a line, a list item or a quotation."""
    i = start - 1
    while i >= 0 and text[i] in " \t([{":
        i -= 1
    if i < 0 or text[i] in "\n\r\"“”«»•*":
        return True
    if text[i] == "'" and (i == 0 or not text[i - 1].isalnum()):
        return True  # an opening quote
    if text[i] == "-" and not text[text.rfind("\n", 0, i) + 1:i].strip(" \t"):
        return True  # a list item
    if text[i] in "!?:;":
        return True
    if text[i] == ".":  # a full stop, unless it ends an initial or a title
        return not (_just_before(_INITIAL_BEFORE, text, start)
                    or _just_before(_TITLE_BEFORE, text, start))
    return False


def _just_before(pattern: re.Pattern[str], text: str, start: int) -> re.Match[str] | None:
    """``pattern`` (anchored with $) ending where a word starts; a short look back."""
    return pattern.search(text, max(0, start - 40), start)


def _merge(spans: Iterable[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Spans in order, overlapping or touching ones (or ones with only spaces between them:
    "Niamh Okafor") joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or not text[merged[-1][1]:start].strip(" \t")):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True, eq=False)
class Scrubber:
    """Removes ids, references and names from free text: ``scrub(text) -> text``.

    Build one with ``scrubber``; ``spans(text)`` says what would be removed (indices into
    the text as given), for measuring recall and over-scrubbing.
    """

    placeholder: str
    ids: re.Pattern[str] | None
    full_names: re.Pattern[str] | None
    parts: re.Pattern[str] | None
    part_info: Mapping[str, _Part]

    def __call__(self, text: str) -> str:
        return _replaced(text, self.spans(text), self.placeholder) if text else text

    def spans(self, text: str) -> list[tuple[int, int]]:
        folded = _fold_with_map(text)
        norm = folded.text
        found: list[tuple[int, int]] = []
        for pattern in (self.ids, _GENERIC_IDS, _EMAIL, _GENERIC_REFERENCE):
            if pattern is not None:
                found += [m.span() for m in pattern.finditer(norm)]
        found += _titled_names(norm)
        if self.full_names is not None:
            for m in self.full_names.finditer(norm):
                words = [w for w in _WORD.findall(m[0]) if len(w) >= MIN_PART]
                if (all(_key(w) in COMMON_WORDS for w in words)
                        and not all(_capitalised(w) for w in words)):
                    continue  # "mark may be" is not Mark May
                found.append(_with_initials(norm, m.start(), m.end()))
        found += self._lone_parts(norm)
        return _merge((_with_format_characters(text, *folded.original(s, e))
                       for s, e in found if e > s), text)

    def _lone_parts(self, norm: str) -> list[tuple[int, int]]:
        if self.parts is None:
            return []
        candidates = [(m.start(), m.end(), self.part_info[_key(m[0])])
                      for m in self.parts.finditer(norm) if _key(m[0]) in self.part_info]
        spans: list[tuple[int, int]] = []
        for n, (start, end, part) in enumerate(candidates):
            capital = _capitalised(norm[start:end])
            if not part.common:
                if capital or not part.short:
                    spans.append(_with_initials(norm, start, end))
                continue
            if not capital:
                continue
            mid = not _sentence_start(norm, start)
            after_title_or_initial = bool(_just_before(_TITLE_BEFORE, norm, start)
                                          or _just_before(_INITIAL_BEFORE, norm, start))
            if mid and after_title_or_initial:
                spans.append(_with_initials(norm, start, end))
                continue
            for other in (n - 1, n + 1):
                if not 0 <= other < len(candidates):
                    continue
                o_start, o_end, o_part = candidates[other]
                gap = norm[end:o_start] if other > n else norm[o_end:start]
                pair_mid = mid or not _sentence_start(norm, o_start)
                if (o_part.persons & part.persons and re.fullmatch(r"\s+|\s*,\s*", gap)
                        and _capitalised(norm[o_start:o_end]) and pair_mid):
                    spans.append((start, end))
                    break
        return spans


def _replaced(text: str, spans: Iterable[tuple[int, int]], placeholder: str) -> str:
    out: list[str] = []
    last = 0
    for start, end in spans:
        out += [text[last:start], placeholder]
        last = end
    out.append(text[last:])
    return "".join(out)


def scrub_emails(text: str, placeholder: str = PLACEHOLDER) -> str:
    """The text with every email address in it (as ``Scrubber`` finds them) replaced: for
    text that is not free text (a role, a theme) but must not carry an address either."""
    if not text:
        return text
    folded = _fold_with_map(text)
    return _replaced(text, _merge((_with_format_characters(text, *folded.original(*m.span()))
                                   for m in _EMAIL.finditer(folded.text)), text), placeholder)


def _with_format_characters(text: str, start: int, end: int) -> tuple[int, int]:
    """A span with the invisible characters around it (bidi controls, zero-width)."""
    while start > 0 and unicodedata.category(text[start - 1]) == "Cf":
        start -= 1
    while end < len(text) and unicodedata.category(text[end]) == "Cf":
        end += 1
    return start, end


def _with_initials(norm: str, start: int, end: int) -> tuple[int, int]:
    """A name's span with the initials just before it ("J. Okafor")."""
    m = _just_before(_INITIAL_BEFORE, norm, start)
    return (m.start() if m else start), end


_TITLE_WORD = re.compile(
    r"(?<![^\W\d_])(?:" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")(?![^\W\d_])")


_TITLE_GAP = re.compile(r"\.?[ \t]+|\.")
_INITIAL = re.compile(r"[A-Z](?:\.[ \t]*|[ \t]+)")
_SPACES = re.compile(r"[ \t]+")


def _titled_names(norm: str) -> list[tuple[int, int]]:
    """A title and what follows it when that is a name: initials, a capitalised word, and a
    second capitalised word that is not a function word, day or month ("Mrs Aisha Patel")."""
    spans: list[tuple[int, int]] = []
    for m in _TITLE_WORD.finditer(norm):
        gap = _TITLE_GAP.match(norm, m.end())
        if not gap:
            continue
        pos = gap.end()
        end = None
        while (initial := _INITIAL.match(norm, pos)) and (
                (word := _WORD.match(norm, pos)) and len(word[0]) == 1):
            pos = initial.end()
            end = pos
        word = _WORD.match(norm, pos)
        if word and _capitalised(word[0]):
            end = word.end()
            second = _SPACES.match(norm, end)
            nxt = _WORD.match(norm, second.end()) if second else None
            if (nxt and _capitalised(nxt[0]) and len(nxt[0]) >= MIN_PART
                    and nxt[0].casefold() not in _NOT_AFTER_TITLE):
                end = nxt.end()
        if end is not None:
            while end > m.end() and norm[end - 1] in " \t":
                end -= 1
            spans.append((m.start(), end))
    return spans


def scrubber(identifiers: Iterable[str], placeholder: str = PLACEHOLDER, *,
             names: Iterable[str] = (), roles: Iterable[str] = (),
             cycles: Iterable[str] = ()) -> Scrubber:
    """A function that removes from free text every id in ``identifiers`` (whole, ignoring
    case; glued to letters too, "ID1234503"), every reference of the ``cycles``, anything
    shaped like an id or a reference, titles with the name after them, and the ``names``
    (people's full names, not ``roles``) and their parts as the module docstring says."""
    ids = {normalise(" ".join(i.split())) for i in identifiers
           if i and len(i.strip()) >= MIN_LENGTH}
    people = _people(names, roles)
    # A full name as written ("=Smith, Jo") is removed whole, in any case, unless every word
    # of it is a common word ("mark may be" is not Mark May; see the full-name patterns).
    ids |= {normalise(" ".join(p.split())) for p in people if len(p) >= MIN_LENGTH
            and not ((words := _name_words(p)) and all(is_common_word(w) for w in words))}
    id_patterns = [_ids_pattern(i for i in ids if i)] if any(ids) else []
    id_patterns += [_reference_pattern(c) for c in cycles if cycle_slug(normalise(c))]
    full: list[tuple[str, ...]] = []
    info: dict[str, tuple[set[int], tuple[str, ...]]] = {}
    for n, person in enumerate(people):
        words = _name_words(person)
        for w in words:
            for p in _parts_of(w):
                info.setdefault(_key(p), (set(), _word_units(p)))[0].add(n)
        if len(words) >= 2:
            units = [_word_units(w) for w in words]
            full.append(_joined(units, _NAME_GAP))
            full.append(units[-1] + (r"\s*,\s*",) + _joined(units[:-1], _NAME_GAP))
            if len(words) >= 3:
                full.append(units[0] + (_NAME_GAP,) + units[-1])
    parts = {key: _Part(frozenset(persons), key in COMMON_WORDS, len(key) < MIN_LENGTH)
             for key, (persons, _) in info.items()}
    return Scrubber(
        placeholder=placeholder,
        ids=_compiled("|".join(f"(?:{p})" for p in id_patterns if p)),
        full_names=_compiled(f"{_LETTER_BEFORE}(?:{_trie(full)}){_LETTER_AFTER}"
                             if full else ""),
        parts=_compiled(f"{_LETTER_BEFORE}(?:{_trie(u for _, u in info.values())})"
                        f"{_LETTER_AFTER}" if info else ""),
        part_info=parts,
    )


def _joined(words: Sequence[tuple[str, ...]], gap: str) -> tuple[str, ...]:
    out: tuple[str, ...] = ()
    for word in words:
        out += ((gap,) if out else ()) + word
    return out


# --- dates and k-anonymity ---------------------------------------------------------------

SUPPRESSED = "(suppressed)"
NO_DATE = "(no date)"


def month_of(value: object) -> str | None:
    """'2026-09' for any date a cell may hold (date, datetime, ISO or UK text)."""
    if isinstance(value, datetime | date):
        return f"{value.year:04d}-{value.month:02d}"
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", value)):
        return f"{m[1]}-{int(m[2]):02d}" if 1 <= int(m[2]) <= 12 else None
    found = parse_date(value) if isinstance(value, str) else None
    return f"{found.year:04d}-{found.month:02d}" if found else None


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")


def _month_name(group: str) -> str:
    return (rf"(?P<{group}>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
            r"|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
            r"(?:\.(?=,?\s*\d))?")


_ORDINAL = r"(?:st|nd|rd|th)?"
_DATES_IN_TEXT = re.compile(
    r"(?<!\d)(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
    r"|(?<![\d/.-])(?P<ud>\d{1,2})(?P<sep>[/.-])(?P<um>\d{1,2})(?P=sep)(?P<uy>\d{4}|\d{2})"
    r"(?![\d/.-]\d)(?!\d)"
    r"|(?<![^\W_])(?P<dd>\d{1,2})" + _ORDINAL + r"\s+(?:of\s+)?" + _month_name("dm")
    + r"(?:,?\s+(?P<dy>\d{4}))?(?![^\W_])"
    r"|(?<![^\W_])" + _month_name("md") + r"\s+(?P<md_d>\d{1,2})" + _ORDINAL
    + r"(?:,?\s+(?P<md_y>\d{4}))?(?![^\W_])",
    re.IGNORECASE,
)


def _month_number(name: str) -> int:
    return next(i for i, m in enumerate(_MONTHS, start=1) if m.startswith(name[:3].lower()))


def _coarse_date(m: re.Match[str]) -> str:
    if m["iy"]:
        year, month, day = int(m["iy"]), int(m["im"]), int(m["id"])
    elif m["uy"]:
        if len(m["uy"]) == 2 and m["sep"] != "/":
            return m[0]  # "1.2.26" is more likely a version than a date
        year = int(m["uy"]) + (2000 if len(m["uy"]) == 2 else 0)
        month, day = int(m["um"]), int(m["ud"])
    else:
        name = m["dm"] or m["md"]
        month, day = _month_number(name), int(m["dd"] or m["md_d"])
        year_text = m["dy"] or m["md_y"]
        if not year_text:
            return _MONTHS[month - 1].capitalize() if 1 <= day <= 31 else m[0]
        year = int(year_text)
    try:
        date(year, month, day)
    except ValueError:
        return m[0]
    return f"{year:04d}-{month:02d}"


def coarsen_dates_in_text(text: str) -> str:
    """Exact dates written in free text made months: '12/09/2026' and '12 September 2026'
    -> '2026-09'; '12 September' -> 'September'. Anything not a real date stays."""
    return _DATES_IN_TEXT.sub(_coarse_date, text)


@dataclass(frozen=True)
class Generalisation:
    """Each row's published period, and what k-anonymity achieved."""

    periods: tuple[str, ...]
    k: int  # required
    achieved: int | None  # rows in the smallest group not suppressed; None if every row is
    months: int  # rows shown by their month
    ranges: int  # rows shown by a range of months
    suppressed: int  # rows shown with no period


def month_range(first: str, last: str) -> str:
    """'2026-09' or '2026-09 to 2026-10'."""
    return first if first == last else f"{first} to {last}"


def k_anonymous_periods(keys: Sequence[Hashable], months: Sequence[str | None],
                        k: int) -> Generalisation:
    """Each row's period so that every group of rows with the same key and period has at
    least ``k`` rows, or has its period SUPPRESSED.

    ``keys`` are a row's other quasi-identifiers (cycle, quadrant, audit type); ``months``
    its month ('2026-09', None if it has none). A month with k or more rows of its key is
    shown as it is; smaller ones are joined with the months after them (months in order,
    each range closed once it holds k rows; what is left at the end joins the last range),
    so a range ("2026-09 to 2026-10") spans only months of that key. A key with fewer than
    k rows in all is suppressed; so are undated rows fewer than k.
    """
    if len(keys) != len(months):
        raise ValueError("one key per month")
    rows_of: dict[Hashable, dict[str | None, list[int]]] = {}
    for i, (key, month) in enumerate(zip(keys, months, strict=True)):
        rows_of.setdefault(key, {}).setdefault(month, []).append(i)
    periods = [SUPPRESSED] * len(keys)
    groups: list[int] = []
    months_kept = ranged = 0
    for per_month in rows_of.values():
        undated = per_month.pop(None, [])
        if len(undated) >= k:
            for i in undated:
                periods[i] = NO_DATE
            groups.append(len(undated))
        ranges: list[list[str]] = []
        open_range: list[str] = []
        size = 0
        for month in sorted(m for m in per_month if m is not None):
            open_range.append(month)
            size += len(per_month[month])
            if size >= k:
                ranges.append(open_range)
                open_range, size = [], 0
        if open_range and ranges:
            ranges[-1] += open_range
        for months_in in ranges:
            label = month_range(months_in[0], months_in[-1])
            rows = [i for m in months_in for i in per_month[m]]
            for i in rows:
                periods[i] = label
            groups.append(len(rows))
            if len(months_in) == 1:
                months_kept += len(rows)
            else:
                ranged += len(rows)
    return Generalisation(
        periods=tuple(periods), k=k, achieved=min(groups) if groups else None,
        months=months_kept, ranges=ranged, suppressed=periods.count(SUPPRESSED))


# --- signatures and pseudonyms -----------------------------------------------------------


def sign(values: Iterable[str], key: bytes) -> str:
    """A keyed signature (HMAC-SHA256) of some values: whoever lacks the workspace's key
    cannot make one, so values changed after signing are detected."""
    return hmac.new(key, "\x1f".join(values).encode(), hashlib.sha256).hexdigest()


def signature_matches(values: Iterable[str], key: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(values, key), signature)


#: The ids a purge keeps in the record as their keyed pseudonyms or tokens (``jobs.purge``).
#: Every other value of a person it keeps is a name, kept as a name's token: '#' and
#: digits (``jobs.purge.Redactor.name``).
PURGED_ID_KINDS = frozenset({"REF", "REC", "PER", "WKR"})
#: Hex digits of a pseudonym made with the workspace's key (the anonymised export's; a
#: purged reference's), and of a purge's token, made with a key that was never stored:
#: two lengths, so a token is told from a pseudonym by its form alone.
PSEUDONYM_DIGITS, TOKEN_DIGITS = 10, 12


def is_pseudonym(value: str, kind: str) -> bool:
    """Whether ``value`` is already a pseudonym or a purge's token for a value of ``kind``:
    'REF-3fdd09a1b2' (``pseudonymiser``) or 'WKR-3fdd09a1b2c4' (``is_token``) for an id of
    ``PURGED_ID_KINDS``, '#' and ten or twelve digits for a name of any other kind. Such a
    value is never pseudonymised again: the record would lose the link it keeps (a
    re-audit to its audit), and an anonymised export would show a pseudonym of a
    pseudonym."""
    return _made(value, kind, PSEUDONYM_DIGITS) or is_token(value, kind)


def is_token(value: str, kind: str) -> bool:
    """Whether ``value`` is a purge's token for a value of ``kind``: 'WKR-3fdd09a1b2c4'
    (twelve hex digits) for an id, '#' and twelve digits for a name. A purge leaves a token
    as it is; a pseudonym of ten digits in a purged row (left by a purge of an earlier
    qaudit, made with the workspace's key) it makes a token."""
    return _made(value, kind, TOKEN_DIGITS)


def _made(value: str, kind: str, digits: int) -> bool:
    if kind in PURGED_ID_KINDS:
        return re.fullmatch(f"{kind}-[0-9a-f]{{{digits}}}", value) is not None
    return re.fullmatch(f"#[0-9]{{{digits}}}", value) is not None


def pseudonymiser(key: bytes, digits: int = PSEUDONYM_DIGITS) -> Callable[[str, str], str]:
    """``(kind, value) -> 'KIND-xxxxxxxxxx'`` (``digits`` hex digits): keyed (HMAC-SHA256),
    stable, blank stays blank."""

    def pseudonym(kind: str, value: str) -> str:
        if not value:
            return ""
        digest = hmac.new(key, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}-{digest[:digits]}"

    return pseudonym
