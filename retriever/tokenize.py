"""Japanese tokenisation for the lexical (BM25) half of retrieval, and query clean-up.

Why SudachiPy split mode A with normalised forms: BM25 needs the *same* token for the words a
question and a passage share. Mode A (short units) splits compounds such as 新型コロナウイルス感染症
into their parts, so a reworded question (「コロナの感染」) still matches; the normalised form folds
spelling variants (附属/付属, 只今/ただいま, 行い/行う). Function words (particles, auxiliaries,
punctuation) are dropped by part of speech rather than by list, so the list of stopwords stays small.
See docs/tokenizer.md for the measurements behind the choice.

SudachiPy `Tokenizer` objects must not be shared between threads, so each thread gets its own
(the dictionary itself is shared).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Protocol

from sudachipy import Dictionary, MorphemeList, SplitMode

# Bump when the token stream changes (POS rules, stopwords, normalisation): persisted indexes
# record it and are rebuilt when it differs.
TOKENIZER_VERSION = 1

# SudachiPy refuses inputs over 49,149 UTF-8 bytes per call; stay well below it.
MAX_PIECE_BYTES = 30_000

# Top-level parts of speech that carry no topic: particles, auxiliary verbs, punctuation, symbols,
# whitespace, pronouns (これ/それ/何/どこ), adnominals (この/その), conjunctions (また/なお) and
# interjections (はい/ええ — frequent in council minutes).
DROP_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白", "代名詞", "連体詞", "接続詞", "感動詞"})

# Words that survive the POS filter but only glue sentences together, as SudachiPy *normalised* forms
# (which are not always kanji: こと, よう, つく): light and honorific verbs (する→為る, いたす→致す,
# おる, ござる), the verb halves of compound particles (について→つく, による→よる, に対して→対する,
# において→おく, に関して→関する), formal nouns (こと, もの, ため, よう) and the honorific prefix ご/お→御.
STOPWORDS = frozenset(
    {
        "為る", "有る", "居る", "成る", "おる", "おく", "致す", "御座る", "頂く", "下さる", "申す", "参る",
        "伺う", "願う", "言う", "思う", "出来る", "行く", "来る", "呉れる", "貰う", "仕舞う",
        "つく", "よる", "対する", "関する",
        "御", "こと", "事", "もの", "物", "よう", "様", "ところ", "所", "ため", "為", "わけ", "訳", "はず",
        "筈", "等", "無い", "良い", "そう", "ふう", "風", "先ず", "さん", "どう", "如何",
    }
)  # fmt: skip

_SEPARATOR = "\x1f"  # never part of a token: persisted token lists are joined with it
_SENTENCE_END = re.compile(r"(?<=[。．！？!?\n])")


def normalize_text(text: str) -> str:
    """NFKC + lowercase: full-width ＡＢＣ１２３ and half-width ｶﾅ become one spelling."""
    return unicodedata.normalize("NFKC", text).lower()


def split_for_sudachi(text: str, max_bytes: int = MAX_PIECE_BYTES) -> Iterator[str]:
    """Yield pieces under SudachiPy's per-call size limit, cut at line/sentence ends when possible."""
    if len(text) * 4 <= max_bytes or len(text.encode("utf-8")) <= max_bytes:
        yield text
        return
    piece: list[str] = []
    size = 0
    for sentence in _SENTENCE_END.split(text):
        n = len(sentence.encode("utf-8"))
        if n > max_bytes:  # one enormous "sentence" (tables, OCR junk): hard cut by characters
            if piece:
                yield "".join(piece)
                piece, size = [], 0
            step = max_bytes // 4
            for start in range(0, len(sentence), step):
                yield sentence[start : start + step]
            continue
        if size + n > max_bytes and piece:
            yield "".join(piece)
            piece, size = [], 0
        piece.append(sentence)
        size += n
    if piece:
        yield "".join(piece)


class Tokenizer(Protocol):
    """What BM25Index needs from a tokenizer (SudachiPy here; fugashi or bigrams in benchmarks)."""

    @property
    def signature(self) -> str: ...

    def tokenize(self, text: str) -> list[str]: ...

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]: ...


@lru_cache(maxsize=1)
def _dictionary() -> Dictionary:
    """One dictionary per process (memory-mapped, safe to share across threads)."""
    return Dictionary()


def _dict_version() -> str:
    try:
        return version("sudachidict-core")
    except PackageNotFoundError:  # pragma: no cover - a custom dictionary
        return "unknown"


class JapaneseTokenizer:
    """SudachiPy mode-A tokeniser producing BM25 terms (normalised, lowercase, content words only)."""

    name = "sudachi"

    def __init__(
        self,
        mode: str = "A",
        *,
        drop_pos: Iterable[str] = DROP_POS,
        stopwords: Iterable[str] = STOPWORDS,
    ) -> None:
        self.mode = mode.upper()
        self._split_mode = getattr(SplitMode, self.mode)
        self._drop_pos = frozenset(drop_pos)
        self._stopwords = frozenset(stopwords)
        dictionary = _dictionary()
        keep: list[bool] = []
        pos_id = 0
        while (pos := dictionary.pos_of(pos_id)) is not None:
            keep.append(pos[0] not in self._drop_pos)
            pos_id += 1
        self._keep_pos = keep
        self._local = threading.local()

    @property
    def signature(self) -> str:
        """Identifies the token stream, so an index built with another tokeniser is detected."""
        custom = "" if (self._drop_pos, self._stopwords) == (DROP_POS, STOPWORDS) else "-custom"
        return f"{self.name}-{self.mode}-dict{_dict_version()}-v{TOKENIZER_VERSION}{custom}"

    def _thread_state(self) -> tuple[object, MorphemeList]:
        state = getattr(self._local, "state", None)
        if state is None:
            tokenizer = _dictionary().tokenizer(mode=self._split_mode, fields={"pos", "normalized_form"})
            state = (tokenizer, tokenizer.tokenize(""))  # reusable result buffer
            self._local.state = state
        return state

    def tokenize(self, text: str) -> list[str]:
        """Terms of one text, in order (duplicates kept: BM25 counts them)."""
        if not text:
            return []
        tokenizer, morphemes = self._thread_state()
        keep = self._keep_pos
        stop = self._stopwords
        out: list[str] = []
        for piece in split_for_sudachi(normalize_text(text)):
            tokenizer.tokenize(piece, out=morphemes)  # type: ignore[attr-defined]
            for m in morphemes:
                if not keep[m.part_of_speech_id()]:
                    continue
                form = m.normalized_form()
                if form in stop:
                    continue
                form = form.lower()
                if _SEPARATOR in form or form.isspace():
                    continue
                out.append(form)
        return out

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        """Bulk variant for indexing; reuses one Sudachi tokenizer and result buffer."""
        return [self.tokenize(text) for text in texts]

    __call__ = tokenize


@lru_cache(maxsize=1)
def default_tokenizer() -> JapaneseTokenizer:
    return JapaneseTokenizer()


def tokenize(text: str) -> list[str]:
    """BM25 terms of `text` with the default (SudachiPy mode A) tokenizer."""
    return default_tokenizer().tokenize(text)


# ---------------------------------------------------------------------------------------------
# Query boilerplate
# ---------------------------------------------------------------------------------------------
# Staff type questions wrapped in request/question phrases that are not what they look for
# (「…について、議会でどのような質問と答弁がありましたか。」, 「…を教えてください」, 「…とは何ですか」).
# Those words would otherwise count as query terms (議会, 質問, 答弁, 教える) and favour passages that
# merely talk *about* asking. Patterns are anchored at the start or end and applied until nothing
# changes, so stacked endings (「…について教えていただけますでしょうか？」) are peeled one by one.

_END_PUNCT = r"[\s。．.、,，!！?？…‥]*"
_TOPIC = r"(?:について|に関して|に関する|についての|に関しての|をめぐる|をめぐって)"
_VENUE = r"(?:(?:市|町|村|区|県|府|都|道)?議会|委員会|本会議|定例会|臨時会|会議|審議会|一般質問|議場|庁内)"
_EXCHANGE = r"(?:質問|答弁|質疑|議論|審議|討論|発言|意見|説明|やりとり|やり取り|回答|報告|提案|要望|指摘|議題|話)"
_INTERROG = r"(?:どのような|どんな|どういった|どういう|いかなる)"
_ENDING_RULES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p + _END_PUNCT + "$")
    for p in (
        # 「（について、）（議会で）どのような質問と答弁がありましたか」 and similar reporting questions;
        # needs the venue or an interrogative so that a plain 「…の発言」 is left alone
        rf"{_TOPIC}?[、,]?\s*(?:{_VENUE}(?:で|では|において|の中で|でも)?[、,]?\s*{_INTERROG}?|{_INTERROG})"
        rf"{_EXCHANGE}(?:[とや・、]{_EXCHANGE})*"
        r"(?:が|は|を)?(?:あり|され|行われ|なされ|交わされ|出)(?:ました|ます|た|ている|ていますか)?"
        r"(?:か|でしょうか)?",
        # 「…（について）教えてください／説明してほしい／知りたい」
        rf"(?:{_TOPIC}|を|が|は)?[、,]?\s*(?:詳しく|簡単に|具体的に|わかりやすく|分かりやすく)?"
        r"(?:教え|おしえ|説明し|解説し|紹介し|調べ|まとめ|示し|知らせ|案内し)"
        r"(?:て|てください|て下さい|てくれ|てくれますか|てくれませんか|てほしい|て欲しい|てもらえますか|"
        r"てもらえませんか|ていただけますか|ていただけませんか|ていただきたい|てちょうだい)"
        r"(?:です|でしょうか|か|ね)?",
        rf"(?:{_TOPIC}|を|が)?[、,]?\s*(?:知りたい|調べたい|聞きたい|伺いたい|確認したい)(?:のです|んです)?(?:が|けど|けれど)?(?:です)?",
        # 「…とは何ですか／とはどういう意味ですか／って何」
        r"(?:とは|って|というのは|ってのは)(?:何|なに|なん|どういう(?:こと|意味|もの)|どのような(?:もの|こと)|どんな(?:もの|こと))?"
        r"(?:ですか|でしょうか|ですかね|か|なの|なのか|なのですか|だ|)?",
        # 「…は何か／はどこ／はいつですか」: question word at the very end, after a particle (so that
        # ぶどう or いくら as content words survive)
        r"(?:のは|のが|は|が|の|を|って|とは)(?:何|なに|なん|いつ|どこ|誰|だれ|どれ|どちら|どなた|どう|いくら|いくつ|どれくらい|どのくらい|どの程度|なぜ|何故|どういう(?:こと|意味|もの)|どのような(?:もの|こと|意味))"
        r"(?:ですか|でしょうか|ですかね|か|なの|なのか|なのですか|だ|)?",
        # bare polite/question endings
        r"(?:なのでしょうか|なのですか|のでしょうか|のですか|でしょうか|ですか|ますか|ませんか|のか|(?<=[るたいうくすつぬむぶぐだ])か)",
        # particles left dangling once the rest is gone (「…について」「…の正式名称は？」)
        rf"(?:{_TOPIC}|とは|って|は)",
        # punctuation only
        "",
    )
)
_LEADING_RULES: tuple[re.Pattern[str], ...] = tuple(
    re.compile("^" + p + r"[\s、,:：。!！]+")  # a separator is required: 「あのまち」 is content
    for p in (
        r"(?:すみません|すいません|恐れ入りますが|あの|えっと|ちょっと)",
        r"(?:質問です|質問があります|教えてください|お尋ねします|お聞きします|確認ですが)",
    )
)


def query_normalize(query: str) -> str:
    """Strip request/question boilerplate around the content of a query, keeping the content words.

    Only anchored boilerplate is removed, so a query that is nothing but boilerplate (or where the
    patterns would eat everything) comes back NFKC-normalised but otherwise unchanged. Idempotent.
    """
    text = unicodedata.normalize("NFKC", query).strip()
    original = text
    changed = True
    while changed and text:
        changed = False
        for rule in _LEADING_RULES:
            new = rule.sub("", text, count=1)
            if new != text:
                text, changed = new.strip(), True
        for rule in _ENDING_RULES:
            new = rule.sub("", text, count=1)
            if new != text:
                text, changed = new.strip(), True
    text = text.strip(" 、,。")
    return text if text else original
