"""Search filters shared by the dense (Chroma) and lexical (BM25) retrievers.

One model, two executions: `to_chroma_where` turns it into a Chroma `where` clause, and `matches`
is the reference predicate (BM25 applies the same rules vectorised; search results are post-filtered
with it where Chroma cannot express a rule exactly). Semantics:

- lists (`doc_types`, `doc_ids`, `years`) mean "any of"; an empty list means "no restriction";
- `speaker` is a substring of the speaker's name, ignoring spaces and width (「飯島」 finds 飯島英規);
- `role` is an exact match (議長, 市長, …);
- `date_from` / `date_to` are inclusive; a chunk without a date never passes a date filter;
- all given conditions must hold (AND).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from yakuba.core.types import DocType

VALID_DOC_TYPES: tuple[str, ...] = tuple(member.value for member in DocType)
MAX_FILTER_ITEMS = 100  # ids, types or years in one filter
MAX_FILTER_TEXT = 300  # one id, speaker or role
# A year a date can hold; strict, so JSON `false` is not a year (bool is an int in Python).
Year = Annotated[int, Field(strict=True, ge=1, le=9999)]
FilterText = Annotated[str, Field(max_length=MAX_FILTER_TEXT)]


def parse_doc_type(value: str) -> str:
    """Japanese label (or an ASCII alias) → Japanese label; unknown values raise ValueError (ja + en)."""
    try:
        return DocType.parse(str(value)).value
    except ValueError:
        valid = "、".join(VALID_DOC_TYPES)
        raise ValueError(
            f"不明な文書種別です: {value!r}（指定できる値: {valid}） / "
            f"unknown doc_type {value!r}; valid values: {', '.join(VALID_DOC_TYPES)}"
        ) from None


def normalize_name(name: str) -> str:
    """Names compare after NFKC and without spaces (会議録 often writes 北川　久人 with a full-width space)."""
    return "".join(unicodedata.normalize("NFKC", name).split())


def speaker_matches(query: str, name: str | None) -> bool:
    """Substring match of a speaker filter against one speaker name."""
    if not name:
        return False
    return normalize_name(query) in normalize_name(name)


def date_to_int(value: str | date | None) -> int | None:
    """'YYYY-MM-DD' (or a date) → YYYYMMDD, the form BM25 filters compare; None when not a valid date."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.year * 10000 + value.month * 100 + value.day
    try:
        parsed = date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
    return parsed.year * 10000 + parsed.month * 100 + parsed.day


def metadata_year(metadata: Mapping[str, Any]) -> int | None:
    """The chunk's year: the `year` key, else the year of its ISO `date`."""
    year = metadata.get("year")
    if isinstance(year, int) and not isinstance(year, bool):
        return year
    if isinstance(year, str) and year.isdigit():
        return int(year)
    as_int = date_to_int(metadata.get("date"))
    return as_int // 10000 if as_int else None


class SearchFilters(BaseModel):
    """What staff can narrow a search by; every field is optional and they combine with AND."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc_types: list[FilterText] | None = Field(None, max_length=MAX_FILTER_ITEMS)
    doc_ids: list[FilterText] | None = Field(None, max_length=MAX_FILTER_ITEMS)
    speaker: FilterText | None = None
    role: FilterText | None = None
    date_from: date | None = None
    date_to: date | None = None
    years: list[Year] | None = Field(None, max_length=MAX_FILTER_ITEMS)

    @field_validator("doc_types", mode="before")
    @classmethod
    def _parse_doc_types(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str | DocType):
            value = [value]
        if not isinstance(value, list | tuple) or len(value) > MAX_FILTER_ITEMS:
            return value  # not a list, or too long: the field's own validation says so
        labels = [parse_doc_type(v) for v in value]
        return list(dict.fromkeys(labels)) or None

    @field_validator("doc_ids", "years", mode="after")
    @classmethod
    def _empty_list_is_none(cls, value: list[Any] | None) -> list[Any] | None:
        return list(dict.fromkeys(value)) if value else None

    @field_validator("speaker", "role", mode="after")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        return value or None

    @model_validator(mode="after")
    def _date_order(self) -> SearchFilters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(
                f"date_from（{self.date_from}）が date_to（{self.date_to}）より後です / "
                f"date_from {self.date_from} is after date_to {self.date_to}"
            )
        return self

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in type(self).model_fields)


def matches(filters: SearchFilters | None, metadata: Mapping[str, Any]) -> bool:
    """Reference predicate: does a chunk with this metadata pass the filters?"""
    if filters is None:
        return True
    if filters.doc_types is not None and metadata.get("doc_type") not in filters.doc_types:
        return False
    if filters.doc_ids is not None and metadata.get("doc_id") not in filters.doc_ids:
        return False
    if filters.role is not None and metadata.get("role") != filters.role:
        return False
    if filters.speaker is not None and not speaker_matches(filters.speaker, metadata.get("speaker")):
        return False
    if filters.years is not None and metadata_year(metadata) not in filters.years:
        return False
    if filters.date_from is not None or filters.date_to is not None:
        when = date_to_int(metadata.get("date"))
        if when is None:
            return False
        if filters.date_from is not None and when < date_to_int(filters.date_from):  # type: ignore[operator]
            return False
        if filters.date_to is not None and when > date_to_int(filters.date_to):  # type: ignore[operator]
            return False
    return True


def _one_of(key: str, values: list[Any]) -> dict[str, Any]:
    return {key: values[0]} if len(values) == 1 else {key: {"$in": values}}


def to_chroma_where(
    filters: SearchFilters | None, *, known_speakers: Iterable[str] | None = None
) -> dict[str, Any] | None:
    """Chroma `where` clause for the filters, or None when there is nothing to filter.

    Chroma cannot do two things, handled so:
    - substring match on `speaker`: given `known_speakers` (e.g. `BM25Index.speakers()`), the
      substring is expanded to an exact `$in` over the matching names; without it, the clause is an
      exact match on the given name and results must be post-filtered with `matches`;
    - day-level date ranges: Chroma compares numbers only and chunks carry `year` (int) and `date`
      (text), so the clause bounds `year`; results must be post-filtered with `matches` unless the
      range is whole years (see `chroma_where_is_exact`).
    """
    if filters is None or filters.is_empty():
        return None
    clauses: list[dict[str, Any]] = []
    if filters.doc_types is not None:
        clauses.append(_one_of("doc_type", filters.doc_types))
    if filters.doc_ids is not None:
        clauses.append(_one_of("doc_id", filters.doc_ids))
    if filters.role is not None:
        clauses.append({"role": filters.role})
    if filters.speaker is not None:
        names = [filters.speaker]
        if known_speakers is not None:
            found = sorted({n for n in known_speakers if speaker_matches(filters.speaker, n)})
            names = found or names  # none match: the exact name matches nothing either
        clauses.append(_one_of("speaker", names))
    if filters.years is not None:
        clauses.append(_one_of("year", sorted(filters.years)))
    if filters.date_from is not None:
        clauses.append({"year": {"$gte": filters.date_from.year}})
    if filters.date_to is not None:
        clauses.append({"year": {"$lte": filters.date_to.year}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def chroma_where_is_exact(filters: SearchFilters | None, *, with_known_speakers: bool = False) -> bool:
    """True when `to_chroma_where` selects exactly what `matches` accepts, so no post-filter is needed.

    Whole-year date ranges are exact because the store derives `year` from `date`.
    """
    if filters is None:
        return True
    if filters.speaker is not None and not with_known_speakers:
        return False
    if filters.date_from is not None and (filters.date_from.month, filters.date_from.day) != (1, 1):
        return False
    return filters.date_to is None or (filters.date_to.month, filters.date_to.day) == (12, 31)
