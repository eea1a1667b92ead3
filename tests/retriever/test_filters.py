"""SearchFilters: validation, the reference predicate and the Chroma translation."""

from __future__ import annotations

from datetime import date

import pytest
from chromadb.api.types import validate_where

from yakuba.retriever.filters import (
    SearchFilters,
    chroma_where_is_exact,
    matches,
    speaker_matches,
    to_chroma_where,
)

CHUNK = {
    "doc_id": "r4-1/5/8",
    "doc_type": "議会会議録",
    "speaker": "飯島　英規",
    "role": "議員",
    "date": "2022-03-01",
    "year": 2022,
}


def test_doc_type_labels_and_aliases() -> None:
    filters = SearchFilters(doc_types=["議会会議録", "minutes", "plan"])
    assert filters.doc_types == ["議会会議録", "計画"]
    assert SearchFilters(doc_types="dx").doc_types == ["DX・ガイドブック"]


def test_unknown_doc_type_lists_valid_values_in_both_languages() -> None:
    with pytest.raises(ValueError) as info:
        SearchFilters(doc_types=["議事録"])
    message = str(info.value)
    assert "不明な文書種別" in message and "unknown doc_type" in message
    for label in ("総合計画", "議会会議録", "DX・ガイドブック", "計画", "その他"):
        assert label in message


def test_date_order_checked_and_blank_values_dropped() -> None:
    with pytest.raises(ValueError, match="date_from"):
        SearchFilters(date_from="2023-01-01", date_to="2022-12-31")
    filters = SearchFilters(speaker="  ", doc_ids=[], years=[], role="")
    assert filters.is_empty()
    with pytest.raises(ValueError):
        SearchFilters(unknown="x")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (None, True),
        (SearchFilters(), True),
        (SearchFilters(doc_types=["議会会議録"]), True),
        (SearchFilters(doc_types=["総合計画"]), False),
        (SearchFilters(doc_ids=["r4-1/5/8", "x"]), True),
        (SearchFilters(doc_ids=["x"]), False),
        (SearchFilters(speaker="飯島"), True),
        (SearchFilters(speaker="飯島英規"), True),  # spaces ignored
        (SearchFilters(speaker="ｲｲｼﾞﾏ"), False),
        (SearchFilters(role="議員"), True),
        (SearchFilters(role="議"), False),  # role is exact
        (SearchFilters(years=[2021, 2022]), True),
        (SearchFilters(years=[2021]), False),
        (SearchFilters(date_from=date(2022, 3, 1)), True),  # inclusive
        (SearchFilters(date_to="2022-03-01"), True),  # inclusive
        (SearchFilters(date_from="2022-03-02"), False),
        (SearchFilters(date_to="2022-02-28"), False),
        (SearchFilters(doc_types=["議会会議録"], speaker="英規", date_from="2022-01-01"), True),
        (SearchFilters(doc_types=["議会会議録"], speaker="北川"), False),
    ],
)
def test_matches(filters: SearchFilters | None, expected: bool) -> None:
    assert matches(filters, CHUNK) is expected


def test_chunk_without_date_fails_date_filters_but_year_comes_from_date() -> None:
    undated = {k: v for k, v in CHUNK.items() if k not in {"date", "year"}}
    assert not matches(SearchFilters(date_from="2000-01-01"), undated)
    assert not matches(SearchFilters(years=[2022]), undated)
    assert matches(SearchFilters(years=[2022]), {"date": "2022-06-30"})


def test_speaker_matches_width_and_spaces() -> None:
    assert speaker_matches("北川 久人", "北川久人")
    assert speaker_matches("ＫＩＴＡ", "KITAGAWA")
    assert not speaker_matches("北川", None)


def test_to_chroma_where_shapes_are_valid_chroma() -> None:
    assert to_chroma_where(None) is None
    assert to_chroma_where(SearchFilters()) is None
    assert to_chroma_where(SearchFilters(doc_types=["議会会議録"])) == {"doc_type": "議会会議録"}
    where = to_chroma_where(
        SearchFilters(
            doc_types=["議会会議録", "計画"],
            doc_ids=["a"],
            role="議員",
            speaker="飯島",
            years=[2022, 2021],
            date_from="2021-04-01",
            date_to="2022-03-31",
        )
    )
    assert where == {
        "$and": [
            {"doc_type": {"$in": ["議会会議録", "計画"]}},
            {"doc_id": "a"},
            {"role": "議員"},
            {"speaker": "飯島"},
            {"year": {"$in": [2021, 2022]}},
            {"year": {"$gte": 2021}},
            {"year": {"$lte": 2022}},
        ]
    }
    validate_where(where)


def test_to_chroma_where_expands_speaker_substring_over_known_names() -> None:
    known = ["飯島英規", "飯島 太郎", "北川久人"]
    where = to_chroma_where(SearchFilters(speaker="飯島"), known_speakers=known)
    assert where == {"speaker": {"$in": ["飯島 太郎", "飯島英規"]}}
    # nothing matches: fall back to the (equally empty) exact match, still a valid clause
    assert to_chroma_where(SearchFilters(speaker="山田"), known_speakers=known) == {"speaker": "山田"}


def test_chroma_where_is_exact() -> None:
    assert chroma_where_is_exact(None)
    assert chroma_where_is_exact(SearchFilters(doc_types=["計画"], years=[2022]))
    assert not chroma_where_is_exact(SearchFilters(speaker="飯島"))
    assert chroma_where_is_exact(SearchFilters(speaker="飯島"), with_known_speakers=True)
    assert chroma_where_is_exact(SearchFilters(date_from="2021-01-01", date_to="2022-12-31"))
    assert not chroma_where_is_exact(SearchFilters(date_from="2021-04-01"))
    assert not chroma_where_is_exact(SearchFilters(date_to="2022-03-31"))
