"""ONNX exports of a sentence-transformers folder: fp32 (same vectors) and int8 (dynamic quantisation).

Ingest is bound by the embedding forward pass (85% of a first ingest of corpora/). The fp32 export,
fused by ONNX Runtime's transformer optimizer, gives the same vectors (cos 1.0000) as fast as torch
2.13 on an idle 2-core machine (11.3 s vs 11.1 s for 128 minutes passages) and holds up far better
when other jobs share the cores (1.9× torch's speed measured at load average 5–6); the unfused graph
is 1.28× slower. int8 weights (onnxruntime's dynamic quantisation, per channel) are no faster on an
idle machine here (no VNNI) and move the vectors (cos ≈ 0.96–0.99). Which one Yakuba uses by default
is decided by retrieval quality (README, issue #16), not here.

The export is a folder built in the model cache beside its source (`<source>-onnx-fp32` /
`-onnx-int8`) under the provisioning lock, staged, checked against the torch model's vectors on
reference texts and only then published (`models.provision`), like the e5 build and the council merge.
Its marker names the source folder's own build marker, so a rebuilt source (new adapter) is
exported again.

The export and the quantisation are deterministic: the same source weights and the same toolchain
(torch, onnx, onnxruntime) give the same bytes (three int8 builds here, one hash). `REFERENCE_BUILDS`
records those bytes' SHA-256 for the pinned toolchain, so a build that should reproduce them and does
not fails loudly; with another toolchain the cosine check alone guards the export (and the marker
records the hash and the versions that made it).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np

from yakuba.core.files import sha256_file
from yakuba.models.provision import ModelError, provision, publish_dir, staging

Precision = Literal["fp32", "int8"]
MODEL_FILE = "model.onnx"
MARKER = "yakuba_onnx.json"
SOURCE_MARKERS = ("yakuba_lora.json", "yakuba_build.json")  # council merge, e5 build
# Copied beside the graph: the tokenizer, the configs, and the council marker (it tells the retriever
# the model reads a question's content, retriever.embeddings.default_query_form).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json",
                   "sentence_bert_config.json", "modules.json", "config_sentence_transformers.json",
                   "yakuba_lora.json")  # fmt: skip
MIN_COSINE: dict[Precision, float] = {"fp32": 0.9999, "int8": 0.97}
CHECK_TEXTS = (
    "query: 防災行政無線の更新はいつまでに完了しますか",
    "passage: 本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。",
    "passage: ○議長（北川久人）\n市民生活部長。",
    "query: 第444回定例会の議案第１号、令和７年度南国市一般会計補正予算の規模はいくらですか",
    "passage: 歳入歳出補正予算の規模は、1,192,893千円の増額計上であります。",
    "query: ラオスの首都はどこ？",
)
_OPSET = 17
# How the graph is built; a cached export of an older version is rebuilt. fp32 2: eager attention traced
# and fused by ONNX Runtime's transformer optimizer (_fuse). int8 1: the plain trace, quantised.
GRAPH_VERSION: dict[Precision, int] = {"fp32": 2, "int8": 1}
# SHA-256 of model.onnx as built from the council model (merged weights' SHA-256 below) with this
# toolchain (issue #16; `yakuba.models.onnx.toolchain()`): three int8 builds, one hash.
REFERENCE_SOURCE_WEIGHTS = "1fb472fb1ec55258c0c8b563f79665741edb84226c2a8ac18b5683de63e5ff9a"
REFERENCE_TOOLCHAIN = {"torch": "2.13.0+cpu", "onnx": "1.23.2", "onnxruntime": "1.32.0"}
REFERENCE_BUILDS: dict[Precision, str] = {
    "int8": "35fbf9e4d47045917dd89e19e52949a410f51cc95846e054b2f746948e06642a",
}


class OnnxExportError(ModelError):
    """The ONNX export or its check failed; the torch model still works (YAKUBA_EMBEDDING_MODEL)."""

    code = "onnx_export_failed"


class OnnxEncoder:
    """Runs an exported folder: tokenizer.json + model.onnx, mean pooling, L2 normalisation.

    Texts are encoded in batches of similar length (sorted, as sentence-transformers does), so short
    chunks are not padded to the longest one in their batch; results come back in input order.
    """

    def __init__(self, folder: Path, *, threads: int = 0, batch_size: int = 32, max_tokens: int = 512) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = Path(folder)
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        self.pad_id = self.tokenizer.token_to_id("<pad>") or 0
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0 = onnxruntime's default (all cores)
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(self.folder / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[j, :n] = encodings[i].ids
                mask[j, :n] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            out[rows] = vectors
        return out


def onnx_dir(source: Path, precision: Precision) -> Path:
    return source.with_name(f"{source.name}-onnx-{precision}")


def _source_fingerprint(source: Path) -> str | None:
    for name in SOURCE_MARKERS:
        if (source / name).is_file():
            return sha256_file(source / name)
    weights = source / "model.safetensors"
    return f"size:{weights.stat().st_size}" if weights.is_file() else None


def is_complete(target: Path, source: Path) -> bool:
    try:
        info = json.loads((target / MARKER).read_text(encoding="utf-8"))
        return (info["source_build"] == _source_fingerprint(source)
                and info.get("graph", 1) == GRAPH_VERSION[info["precision"]]
                and (target / MODEL_FILE).stat().st_size == info["model_bytes"])  # fmt: skip
    except (OSError, ValueError, KeyError):
        return False


def _export_fp32(source: Path, out: Path, *, attention: str | None = None) -> None:
    """The transformer body to ONNX (input_ids, attention_mask → last_hidden_state); pooling and
    normalisation stay in numpy (retriever.onnx_embeddings), as sentence-transformers does them.
    `attention="eager"` traces the plain matmul-softmax attention, the pattern ONNX Runtime's
    transformer optimizer fuses (the default SDPA trace is not recognised)."""
    import torch
    from transformers import AutoModel

    class Body(torch.nn.Module):  # keyword call: transformers 5 forward() takes more positionals
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    extra = {"attn_implementation": attention} if attention else {}
    body = Body(AutoModel.from_pretrained(str(source), **extra)).eval()
    sample = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            body, sample, str(out), input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"], opset_version=_OPSET, dynamo=False,
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        )  # fmt: skip


def _fuse(graph: Path, out: Path, config: Path) -> None:
    """ONNX Runtime's BERT fusions (EmbedLayerNormalization, Attention, BiasGelu, SkipLayerNormalization):
    the same vectors (cos ≥ 0.9999999 on 256 minutes passages), 1.28× faster on 2 idle cores than the
    plain graph, which ONNX Runtime's own session optimisations leave unfused.
    Python-level fusions only (opt_level 0): nothing is specialised to the building machine's CPU."""
    from onnxruntime.transformers.optimizer import optimize_model

    info = json.loads(config.read_text(encoding="utf-8"))
    model = optimize_model(str(graph), model_type="bert", num_heads=int(info["num_attention_heads"]),
                           hidden_size=int(info["hidden_size"]), opt_level=0)  # fmt: skip
    if not model.get_fused_operator_statistics().get("Attention"):
        raise OnnxExportError(
            "ONNX の最適化で Attention を融合できませんでした", f"the optimizer fused no Attention in {graph}"
        )
    model.save_model_to_file(str(out))


def _quantise(fp32: Path, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True)


def toolchain() -> dict[str, str]:
    """The versions that decide an export's bytes."""
    from importlib.metadata import version

    import torch

    return {"torch": str(torch.__version__), "onnx": version("onnx"), "onnxruntime": version("onnxruntime")}


def check_reproducible(
    model_file: Path, source_weights: str, tools: dict[str, str], precision: Precision
) -> tuple[str, bool]:
    """(SHA-256 of the graph, whether it is the reference build). Raises when the source weights and
    the toolchain are the reference's but the bytes are not: the build is deterministic, so a
    difference means a damaged file or an exporter that no longer does what was measured."""
    digest = sha256_file(model_file)
    expected = REFERENCE_BUILDS.get(precision)
    if expected is None or source_weights != REFERENCE_SOURCE_WEIGHTS or tools != REFERENCE_TOOLCHAIN:
        return digest, False
    if digest != expected:
        raise OnnxExportError(
            f"ONNX 変換の結果が検証済みのもの（SHA-256 {expected[:12]}…）と一致しません（{digest[:12]}…）",
            f"the {precision} ONNX export is not the verified build (sha256 {digest} != {expected})",
        )
    return digest, True


def check_export(folder: Path, source: Path, precision: Precision) -> float:
    """Lowest cosine between the export's and the torch model's vectors on CHECK_TEXTS; raises below
    MIN_COSINE (a broken export must never reach a store)."""
    from sentence_transformers import SentenceTransformer

    want = SentenceTransformer(str(source), device="cpu").encode(list(CHECK_TEXTS), normalize_embeddings=True)
    got = OnnxEncoder(folder, threads=1).encode(list(CHECK_TEXTS))
    worst = float((np.asarray(got) * np.asarray(want)).sum(axis=1).min())
    if worst < MIN_COSINE[precision]:
        raise OnnxExportError(
            f"ONNX 変換したモデルの出力が元のモデルと一致しません（cos {worst:.4f} < {MIN_COSINE[precision]}）",
            f"the {precision} ONNX export does not reproduce the torch model (cos {worst:.4f} < {MIN_COSINE[precision]})",
        )
    return worst


def build_onnx(source: Path, target: Path, precision: Precision, progress: Callable[[str], None]) -> Path:
    with staging(target) as staged:
        for name in TOKENIZER_FILES:
            if (source / name).is_file():
                shutil.copy2(source / name, staged / name)
        if (source / "1_Pooling").is_dir():
            shutil.copytree(source / "1_Pooling", staged / "1_Pooling")
        progress(f"ONNX に変換しています / exporting {source.name} to ONNX")
        try:
            if precision == "fp32":
                _export_fp32(source, staged / "model-traced.onnx", attention="eager")
                progress("ONNX グラフを最適化しています / fusing the transformer graph")
                _fuse(staged / "model-traced.onnx", staged / MODEL_FILE, source / "config.json")
                (staged / "model-traced.onnx").unlink()
            else:
                _export_fp32(source, staged / "model-fp32.onnx")
                progress("int8 に量子化しています / quantising to int8")
                _quantise(staged / "model-fp32.onnx", staged / MODEL_FILE)
                (staged / "model-fp32.onnx").unlink()
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - exporter failures become one operator message
            raise OnnxExportError(
                f"ONNX への変換に失敗しました: {source}", f"ONNX export of {source} failed: {exc}"
            ) from exc
        tools = toolchain()
        weights = source / "model.safetensors"
        source_weights = sha256_file(weights) if weights.is_file() else ""
        digest, reference = check_reproducible(staged / MODEL_FILE, source_weights, tools, precision)
        cosine = check_export(staged, source, precision)
        (staged / MARKER).write_text(json.dumps({
            "source": str(source), "source_build": _source_fingerprint(source), "precision": precision,
            "opset": _OPSET, "graph": GRAPH_VERSION[precision], "min_cosine_vs_torch": round(cosine, 5),
            "model_bytes": (staged / MODEL_FILE).stat().st_size, "sha256": digest,
            "source_weights_sha256": source_weights, "toolchain": tools, "reference_build": reference,
        }, indent=2) + "\n", encoding="utf-8")  # fmt: skip
        publish_dir(staged, target)
    return target


def ensure_onnx(source: Path, precision: Precision, progress: Callable[[str], None] | None = None) -> Path:
    """`<source>-onnx-<precision>` in the model cache, exported and checked on first use (~1 min)."""
    source = Path(source)
    target = onnx_dir(source, precision)
    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    return provision(target, lambda t: is_complete(t, source), lambda t: build_onnx(source, t, precision, say))
