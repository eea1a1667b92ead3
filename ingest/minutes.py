"""Council minutes (議会会議録): speaker turns, session, date, and document-type detection.

Pure functions over text, no I/O. Why a dedicated parser: minutes are the bulk of what council
staff search, and a passage is only citable with who said it (role and name), in which session and
on which day. Chunks must never mix two speakers, so the chunker needs the turns first.

Conventions of the published text this parser reads (e.g. ssp.kaigiroku.net exports):

* a speaker turn starts with a marker line: ``○議長（北川久人）``, ``◆１３番（丹羽孝志君）``,
  ``◎教育長（…）``, ``○健康長寿課長（…）``; full- or half-width parentheses; names may be
  spaced out (``石　渡　宏　明``) and carry ``君``; the body follows on the next lines or on the same
  line after a space;
* ``△開会``, ``△日程第１　…`` (and ``◎`` lines that are not speaker lines) are agenda/procedure
  markers, not speakers; they end the running turn;
* members speak under their seat number (``１３番``): the turn keeps ``seat=13`` and
  ``role="議員"`` so that filters by role work for every member alike;
* a turn's ``agenda`` is the 日程 item in force plus the step under it
  (``日程第1 一般質問 ／ 丹羽孝志議員``); procedural lines (休憩, 再開, 続行…) leave it unchanged.

Line numbers are 0-based indexes into ``text.split("\\n")``, the way ``ingest.chunk`` maps lines
back to pages.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from pydantic import BaseModel, Field, computed_field

from yakuba.core.types import MEMBER_ROLE, DocType
from yakuba.core.wareki import NUM_PATTERN, to_int, wareki_to_iso

# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class SpeakerTurn(BaseModel):
    """One speech: who spoke (marker, role, seat, name) and what was said, with its line span."""

    marker: str = Field(description="○, ◆, ◎ … as printed")
    role: str = Field(description="議長, 市長, 健康長寿課長 …; members under a seat number get 議員")
    seat: int | None = Field(None, description="議席番号 for members (１３番 → 13)")
    speaker: str = Field("", description="name without spaces and without 君/議員/さん/氏")
    text: str = Field(description="the body, lines stripped, up to the next speaker or agenda marker")
    line_start: int = Field(description="0-based line of the marker line")
    line_end: int = Field(description="0-based line of the last non-blank body line (inclusive)")
    agenda: str | None = Field(None, description="the agenda item (△ line) this turn falls under")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """Speaker label for display and chunk headers, e.g. 13番議員（丹羽孝志）."""
        role = f"{self.seat}番{self.role}" if self.seat is not None else self.role
        return f"{role}（{self.speaker}）" if self.speaker else role


class AgendaItem(BaseModel):
    """A △ (or non-speaker ◎) procedure/agenda line with its continuation lines."""

    text: str
    line: int = Field(description="0-based line of the △ line")
    procedural: bool = Field(description="開会/休憩/再開/散会… rather than a substantive item")


class MinutesParse(BaseModel):
    """What a 会議録 text yields: header facts, the preamble, agenda markers and speaker turns."""

    session: str | None = Field(
        None, description="e.g. 令和4年第4回定例会, 令和5年第1回臨時会, 予算特別委員会"
    )
    meeting_date: str | None = Field(None, description="ISO date of the meeting day, from the header")
    title: str | None = Field(
        None, description="the 会議録 title line, e.g. 令和4年桐生市議会第4回定例会会議録第1号"
    )
    preamble: str = Field("", description="everything before the first turn: header, roll, 議事日程")
    agenda: list[AgendaItem] = Field(default_factory=list)
    turns: list[SpeakerTurn] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Line classification
# --------------------------------------------------------------------------------------------

_SPEAKER_MARKS = "○◆◎◯〇●"
_SPEAKER_LINE = re.compile(
    rf"^\s*(?P<mark>[{_SPEAKER_MARKS}])\s*(?P<role>[^()\s][^()]{{0,29}}?)\s*"
    r"\((?P<name>[^()]{1,40})\)(?P<rest>.*)$"
)
# Chairs are sometimes printed without a name: ○議長 ただいまから…
_CHAIR_LINE = re.compile(
    rf"^\s*(?P<mark>[{_SPEAKER_MARKS}])\s*(?P<role>議長|副議長|委員長|副委員長|座長|会長)(?:\s+(?P<rest>\S.*))?$"
)
# Other cities' layouts (issue #15):
# 「○山田太郎君　質問します。」: a member by name with 君 and no role;
_NAME_KUN_LINE = re.compile(
    rf"^\s*(?P<mark>[{_SPEAKER_MARKS}])\s*(?P<name>[^\s()、。「」0-9][^()、。「」]{{0,14}}?)\s*君(?:\s+(?P<rest>\S.*))?$"
)
# 「○議長　山田太郎君」「○市長　鈴木一郎君　お答えします。」: role, a space, name with 君;
_ROLE_SPACE_NAME_LINE = re.compile(
    rf"^\s*(?P<mark>[{_SPEAKER_MARKS}])\s*(?P<role>[^\s()]{{1,24}})\s+(?P<name>[^\s()、。]{{1,10}}(?:\s[^\s()、。]{{1,6}})?)\s*君(?:\s+(?P<rest>\S.*))?$"
)
# 「○田中委員長　ただいまから…」「◯佐藤委員　」 (committee minutes): surname fused with the role;
_SURNAME_ROLE_LINE = re.compile(
    rf"^\s*(?P<mark>[{_SPEAKER_MARKS}])\s*(?P<name>[\u3400-\u9fff々ヶ]{{2,4}})"
    r"(?P<role>副委員長|委員長|副議長|議長|委員|議員|副市長|市長|町長|村長|区長)(?:\s+(?P<rest>\S.*))?$"
)
# 「議長（山田太郎君）」 alone on its line, no marker (the body follows on the next lines).
_BARE_SPEAKER_LINE = re.compile(r"^\s*(?P<role>[^\s()][^()]{0,23}?)\s*\((?P<name>[^()]{1,20})\)\s*$")
# △ also serves as a minus sign in Japanese accounts (△1,234): an agenda line starts with a word.
_AGENDA_LINE = re.compile(r"^\s*[△◎▲]\s*(?P<text>[^\s\d０-９.,．，].*)$")
_OPENING_AGENDA = re.compile(r"^\s*△\s*[^\s\d０-９.,．，]")
_SEPARATOR_LINE = re.compile(r"^\s*[-－―─━ー〜~◇◆・=＝\s]{3,}$")
_SEAT_ROLE = re.compile(rf"^(?P<seat>{NUM_PATTERN})番(?:議員|委員)?$")
# Roles end in a title word; this keeps bullets like ○補正予算（第８号） out of the turns.
_ROLE_SUFFIX = re.compile(
    r"(長|議員|委員|監|官|者|人|事|幹|員|役|査|担当|参与|顧問|代理|補佐|主任|記|係|知事|理事|参事)$"
)
_NOT_ROLE_PREFIX = (
    "出席",
    "欠席",
    "説明のため",
    "職務のため",
    "事務局職員",
    "議事日程",
    "本日の会議",
    "会議に付",
)
_NAME_CHARS = re.compile(r"^[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff々〆ヶA-Za-z・=ー]+$")
_NAME_SUFFIXES = ("議員", "委員", "君", "さん", "氏")
_NOT_NAMES = {"なし", "無し", "ない", "なし。", "同じ", "省略", "別紙"}
_PROCEDURAL = re.compile(
    r"^(?:(?:開会|開議|休憩|再開|散会|延会|閉会(?!中)|閉議|休会).*|会議時間の延長|日程の追加|.*続行.*|.*の宣告)$"
)
# An agenda item proper (日程第１ …) versus a step under it (質疑, 討論, a member's 一般質問 slot).
_MAIN_ITEM = re.compile(r"^(追加)?日程")


def _squash(text: str) -> str:
    """NFKC and no whitespace at all: Japanese keywords match even in spaced-out PDF text."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _clean_name(raw: str) -> str | None:
    name = _squash(raw)
    for suffix in _NAME_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    if not name or name in _NOT_NAMES or len(name) > 15 or not _NAME_CHARS.match(name):
        return None
    return name


def _clean_role(raw: str) -> tuple[str, int | None] | None:
    role = _squash(raw)
    if not role or len(role) > 24 or role.startswith(_NOT_ROLE_PREFIX):
        return None
    seat = _SEAT_ROLE.match(role)
    if seat:
        number = to_int(seat.group("seat"))
        return (MEMBER_ROLE, number) if number else None
    if re.search(r"[0-9、。「」『』:：;；!?！？]", role) or not _ROLE_SUFFIX.search(role):
        return None
    return role, None


class _SpeakerHead(NamedTuple):
    """A recognised speaker line: who, and any body text on the same line."""

    marker: str
    role: str
    seat: int | None
    speaker: str
    rest: str


def _other_layouts(flat: str) -> _SpeakerHead | None:
    """Marker lines of other cities' minutes: 「○議長　山田太郎君」, 「○田中委員長」, 「○山田太郎君」."""
    match = _ROLE_SPACE_NAME_LINE.match(flat)
    if match:
        role = _clean_role(match.group("role"))
        name = _clean_name(match.group("name"))
        if role and name:
            return _SpeakerHead(match.group("mark"), role[0], role[1], name, (match.group("rest") or "").strip())
    match = _SURNAME_ROLE_LINE.match(flat)
    if match:
        return _SpeakerHead(
            match.group("mark"), match.group("role"), None, match.group("name"), (match.group("rest") or "").strip()
        )
    match = _NAME_KUN_LINE.match(flat)
    if match:
        name = _clean_name(match.group("name"))
        if name and _clean_role(name) is None:  # 「○総務部長君」 is not a name
            return _SpeakerHead(match.group("mark"), MEMBER_ROLE, None, name, (match.group("rest") or "").strip())
    return None


def _bare_speaker_head(line: str) -> _SpeakerHead | None:
    """「議長（山田太郎君）」 on a line of its own, without a marker: a speaker in minutes that print
    no ○. Only used where the document is already known to be minutes (see `parse_minutes`)."""
    flat = unicodedata.normalize("NFKC", line)
    match = _BARE_SPEAKER_LINE.match(flat)
    if not match:
        return None
    role = _clean_role(match.group("role"))
    name = _clean_name(match.group("name"))
    if not role or not name:
        return None
    return _SpeakerHead(marker="", role=role[0], seat=role[1], speaker=name, rest="")


def _speaker_head(line: str) -> _SpeakerHead | None:
    """The speaker of a marker line, or None for any other line."""
    flat = unicodedata.normalize("NFKC", line)
    if not flat.lstrip()[:1] or flat.lstrip()[0] not in _SPEAKER_MARKS:
        return None
    match = _SPEAKER_LINE.match(flat)
    if match:
        role = _clean_role(match.group("role"))
        name = _clean_name(match.group("name"))
        if role and name:
            rest = match.group("rest").strip().lstrip("、,。 ")
            return _SpeakerHead(
                marker=match.group("mark"), role=role[0], seat=role[1], speaker=name, rest=rest
            )
        return None
    other = _other_layouts(flat)
    if other is not None:
        return other
    chair = _CHAIR_LINE.match(flat)
    if chair:
        return _SpeakerHead(
            marker=chair.group("mark"),
            role=chair.group("role"),
            seat=None,
            speaker="",
            rest=(chair.group("rest") or ""),
        )
    return None


def _agenda_text(line: str) -> str | None:
    match = _AGENDA_LINE.match(line)
    return match.group("text").strip() if match else None


# --------------------------------------------------------------------------------------------
# Header facts
# --------------------------------------------------------------------------------------------

_ERA_YEAR = rf"(?P<era>令和|平成|昭和)(?P<year>元|{NUM_PATTERN})年"
# 「令和4年桐生市議会第4回定例会」 and 「令和6年第2回やくば町議会定例会」 (the assembly's name after 第N回).
_SESSION_NUMBERED = re.compile(
    rf"{_ERA_YEAR}\S*?第(?P<no>{NUM_PATTERN})回(?:[^\s第回]{{0,12}}?議会)?(?P<kind>定例会|臨時会)"
)
_SESSION_MONTH = re.compile(
    rf"{_ERA_YEAR}(?P<month>{NUM_PATTERN})月(?P<kind>定例会|臨時会)(?:[(（]第(?P<no>{NUM_PATTERN})回[)）])?"
)
_SESSION_COMMITTEE = re.compile(rf"(?:{_ERA_YEAR})?(?:\S*?議会)?(?P<name>[^\s、。()（）]{{1,20}}?委員会)")
_TITLE_LINE = re.compile(r"会議録(?:第\d+号)?$|会議録第\d+号")


def _norm_year(token: str) -> str:
    return "元" if token == "元" else str(to_int(token))


def _find_session(header_lines: list[str]) -> str | None:
    flat_lines = [_squash(line) for line in header_lines]
    for line in flat_lines:
        match = _SESSION_NUMBERED.search(line)
        if match:
            return f"{match['era']}{_norm_year(match['year'])}年第{to_int(match['no'])}回{match['kind']}"
    for line in flat_lines:
        match = _SESSION_MONTH.search(line)
        if match:
            base = f"{match['era']}{_norm_year(match['year'])}年"
            if match["no"]:
                return f"{base}第{to_int(match['no'])}回{match['kind']}"
            return f"{base}{to_int(match['month'])}月{match['kind']}"
    for line in flat_lines:
        if "会議録" not in line and "記録" not in line:
            continue
        match = _SESSION_COMMITTEE.search(line)
        if match:
            era = f"{match['era']}{_norm_year(match['year'])}年" if match["era"] else ""
            return f"{era}{match['name']}"
    return None


def _find_title(header_lines: list[str]) -> str | None:
    for line in header_lines:
        flat = _squash(line)
        if _TITLE_LINE.search(flat) and len(flat) <= 80:
            return flat
    for line in header_lines:
        if line.strip():
            return _squash(line)[:80]
    return None


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def _body_text(lines: list[str]) -> str:
    """Strip each line, drop separators, collapse blank runs, trim blank ends."""
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if stripped and _SEPARATOR_LINE.match(stripped):
            continue
        if not stripped and (not kept or not kept[-1]):
            continue
        kept.append(stripped)
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept)


def parse_minutes(text: str) -> MinutesParse:
    """Split a 会議録 text into header facts, preamble, agenda markers and speaker turns.

    A turn's body runs from its marker line to the line before the next speaker marker or △/◎
    agenda marker. Text that is not minutes yields no turns (the caller then chunks it as prose).
    """
    lines = [line.rstrip("\r") for line in text.split("\n")]
    # Minutes that print no ○/◆ at all put the speaker alone on a line (「議長（山田太郎君）」).
    bare_layout = not any(_speaker_head(line) for line in lines)
    turns: list[SpeakerTurn] = []
    agenda: list[AgendaItem] = []
    first_turn_line: int | None = None
    current: tuple[_SpeakerHead, int, list[str]] | None = None
    agenda_body: tuple[int, list[str]] | None = None
    main_item: str | None = None
    sub_item: str | None = None

    def in_force() -> str | None:
        if main_item and sub_item:
            return f"{main_item} ／ {sub_item}"
        return main_item or sub_item

    def close_turn(end: int) -> None:
        nonlocal current
        if current is None:
            return
        head, start, body = current
        last = start
        for offset in range(len(body) - 1, -1, -1):
            if body[offset].strip():
                last = start + offset + (0 if head.rest else 1)
                break
        turns.append(
            SpeakerTurn(
                marker=head.marker,
                role=head.role,
                seat=head.seat,
                speaker=head.speaker,
                text=_body_text(body),
                line_start=start,
                line_end=min(max(last, start), end),
                agenda=in_force(),
            )
        )
        current = None

    def close_agenda() -> None:
        nonlocal agenda_body, main_item, sub_item
        if agenda_body is None:
            return
        start, body = agenda_body
        item_text = _body_text(body)
        first = _squash(item_text.split("\n", 1)[0]) if item_text else ""
        procedural = bool(_PROCEDURAL.match(first))
        agenda.append(AgendaItem(text=item_text, line=start, procedural=procedural))
        if not procedural and item_text:
            heading = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", item_text.split("\n", 1)[0])).strip()
            if _MAIN_ITEM.match(heading):
                main_item, sub_item = heading, None
            else:
                sub_item = heading
        agenda_body = None

    for index, line in enumerate(lines):
        head = _speaker_head(line) or (_bare_speaker_head(line) if bare_layout else None)
        if head is not None:
            close_turn(index - 1)
            close_agenda()
            if first_turn_line is None:
                first_turn_line = index
            current = (head, index, [head.rest] if head.rest else [])
            continue
        agenda_line = _agenda_text(line)
        if agenda_line is not None:
            close_turn(index - 1)
            close_agenda()
            agenda_body = (index, [agenda_line])
            continue
        if current is not None:
            current[2].append(line)
        elif agenda_body is not None:
            agenda_body[1].append(line)
    close_turn(len(lines) - 1)
    close_agenda()

    preamble_lines = lines if first_turn_line is None else lines[:first_turn_line]
    header_lines = [line for line in preamble_lines if line.strip()][:60]
    if not header_lines:
        header_lines = [line for line in lines if line.strip()][:10]
    header_text = "\n".join(header_lines)
    return MinutesParse(
        session=_find_session(header_lines),
        meeting_date=wareki_to_iso(header_text),
        title=_find_title(header_lines),
        preamble="\n".join(preamble_lines).strip() if turns else "",
        agenda=agenda,
        turns=turns,
    )


# --------------------------------------------------------------------------------------------
# Detection
# --------------------------------------------------------------------------------------------

# Enough to tell minutes apart without reading a 400-page budget to the end.
_SCAN_CHARS = 200_000
_MINUTES_HEADER = re.compile(r"(会議録|会議録第\d+号|会議録\(第\d+号\))$")
_COUNCIL_WORDS = re.compile(r"議会|会議|委員会")
# Council vote records (議決結果・賛否一覧): council documents, whatever their layout.
_VOTE_RECORD = re.compile(r"議決結果|審議結果|表決結果|採決結果|賛否(?:一覧|の状況|状況|結果)|議員別賛否|賛否表")


def _head_lines(text: str, limit: int) -> list[str]:
    """The first non-empty lines, squashed."""
    heads: list[str] = []
    for line in text[:5000].split("\n"):
        flat = _squash(line)
        if flat:
            heads.append(flat)
            if len(heads) >= limit:
                break
    return heads


def looks_like_minutes(text: str) -> bool:
    """True for 会議録 text: several speaker lines with role and name, a 会議録 title line, or a text
    that opens with a speaker or △ line (one speech or procedure record, as in per-speech exports).

    Plans, ordinances, white papers and a mayor's 施政方針 have none of these: bullets such as
    ``○子育て支援（保育所）`` fail the role/name checks, and their title lines do not end in 会議録.
    """
    sample = text[:_SCAN_CHARS]
    first = next((line for line in sample.split("\n") if line.strip()), "")
    head_of_first = _speaker_head(first)
    if (head_of_first is not None and head_of_first.speaker) or _OPENING_AGENDA.match(first):
        return True
    speakers: set[tuple[str, str]] = set()
    count = 0
    for line in sample.split("\n"):
        head = _speaker_head(line)
        if head is not None and head.speaker:
            count += 1
            speakers.add((head.role, head.speaker))
            if count >= 3 and len(speakers) >= 2:
                return True
    if count == 0 and _COUNCIL_WORDS.search(sample[:3000]):
        bare = [head for line in sample.split("\n") if (head := _bare_speaker_head(line)) is not None]
        if len(bare) >= 3 and len({(h.role, h.speaker) for h in bare}) >= 2:
            return True
    return any(len(line) <= 60 and _MINUTES_HEADER.search(line) for line in _head_lines(sample, 30))


_COMPREHENSIVE = re.compile(
    r"総合計画|(?:^|[市町村区都道府県])(?:総合)?基本構想|[市町村区](?:前期|後期)?基本計画$"
)
_DX_GUIDE = re.compile(
    r"DX推進|自治体DX|デジタル・?トランスフォーメーション|ガイドブック|ハンドブック|手引|マニュアル"
)
_NOT_A_PLAN = re.compile(r"施政方針|所信表明|[市町村]政報告|提案理由|白書|条例|予算|決算|会議録")
_PLAN = re.compile(r"計画|戦略|方針|ビジョン|プラン")


def _title_like(lines: list[str]) -> list[str]:
    """Lines short and punctuation-free enough to be titles or headings, not wrapped sentences."""
    return [line for line in lines if len(line) <= 40 and "、" not in line and "。" not in line]


def is_vote_record(title: str, text: str) -> bool:
    """議決結果・賛否一覧 (how each member voted on each bill) by its title or opening lines."""
    return any(_VOTE_RECORD.search(line) for line in [_squash(title), *_title_like(_head_lines(text, 10))])


def detect_doc_type(title: str, text: str, *, has_vote_table: bool = False) -> DocType:
    """Pick the document type from the title and the first page, in order of specificity.

    議会会議録 (会議録 in the title or minutes-like text, a 議決結果・賛否一覧 by its title, or any
    document holding a vote table, `has_vote_table`) → 総合計画 (総合計画, or a municipality's
    基本構想/基本計画) → DX・ガイドブック (DX推進, ガイドブック, 手引き) → その他 for statements,
    ordinances, budgets and white papers → 計画 (計画/戦略/方針/ビジョン) → その他.
    """
    name = _squash(title)
    if "会議録" in name or has_vote_table or is_vote_record(title, text) or looks_like_minutes(text):
        return DocType.COUNCIL_MINUTES
    heads = _title_like(_head_lines(text, 10))
    candidates = [name, *heads]
    if any(_COMPREHENSIVE.search(line) for line in candidates):
        return DocType.COMPREHENSIVE_PLAN
    if any(_DX_GUIDE.search(line) for line in candidates):
        return DocType.DX_GUIDEBOOK
    if any(_NOT_A_PLAN.search(line) for line in candidates):
        return DocType.OTHER
    if any(_PLAN.search(line) for line in candidates):
        return DocType.PLAN
    return DocType.OTHER
