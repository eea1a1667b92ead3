"""Prompt tokens and what the prompt still holds: every passage, the adaptive passage count, and the
adaptive count within shared character budgets (issue #17).

No model runs: the answer pipeline is driven with a chat model that records the messages it is
given and answers 「資料に記載がありません」, and the prompts are counted with the configured GGUF's own
tokenizer and chat template (a `vocab_only` load, ~10 s). All variants run in one process, on the
same questions and the same retrieval: `yakuba eval answers`' seeded sample and its unanswerable plan
(a share of the questions has its gold documents removed from a copy of the cached eval index).

Per dataset it prints, for the questions that reach the model (relevance did not abstain):
- prompt tokens (whole chat prompt, and the part after the fixed system prompt whose KV state
  llama.cpp can keep): mean / p50 / p95, and how many passages the prompt carried;
- quality proxies over the answerable ones among them: the share whose gold answer string is in
  the prompt's passages (their labels included; datasets with answer strings), and the share whose
  gold document is among them.

    .venv/bin/python benchmarks/prompt_budget.py                      # jsquad-valid 100 + kiryu-r4 40, seed 1
    .venv/bin/python benchmarks/prompt_budget.py ../shared/datasets/jsquad-valid:300 --seed 2
    .venv/bin/python benchmarks/prompt_budget.py --budgets 450 600 750 900
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from pydantic import Field  # noqa: E402

from yakuba.assistant.answer import AnswerPipeline  # noqa: E402
from yakuba.assistant.llm import _to_openai_messages  # noqa: E402
from yakuba.assistant.prompts import MODEL_ABSTAIN_PHRASE, PASSAGE_CLOSE, PASSAGE_OPEN  # noqa: E402
from yakuba.assistant.schemas import AnswerRequest  # noqa: E402
from yakuba.core.settings import Settings  # noqa: E402
from yakuba.evals.answer_metrics import normalize_compact  # noqa: E402
from yakuba.evals.answers import isolated_index, plan_unanswerable, select_questions  # noqa: E402
from yakuba.evals.datasets import load_dataset  # noqa: E402
from yakuba.evals.metrics import percentile  # noqa: E402
from yakuba.models.gguf import resolve_gguf  # noqa: E402
from yakuba.retriever.embeddings import embeddings_from_settings  # noqa: E402
from yakuba.retriever.search import FusionConfig, HybridSearcher, set_query_threads  # noqa: E402

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DEFAULT_SETS = (f"{DATASETS / 'jsquad-valid'}:100", f"{DATASETS / 'kiryu-r4'}:40")
# One block of answer_messages(): "[n] label" (the document's title, page, section) then the quoted
# text between <資料> lines. Both are what the model reads: a JSQuAD answer is often the article's title.
_BLOCK = re.compile(rf"^\[(\d+)\]([^\n]*\n{PASSAGE_OPEN}\n.*?\n{PASSAGE_CLOSE})$", re.M | re.S)


class PromptRecorder(BaseChatModel):
    """A chat model that keeps the messages it is asked and says the passages do not answer."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "prompt-recorder"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.prompts.append(list(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(MODEL_ABSTAIN_PHRASE))])


class PromptTokens:
    """Token counts of a chat prompt as llama-cpp-python builds it from the GGUF's chat template."""

    def __init__(self, gguf: Path) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama = Llama(model_path=str(gguf), vocab_only=True, verbose=False)
        special = self.llama._model.token_get_text  # noqa: SLF001 - the template's bos/eos strings
        self.format = Jinja2ChatFormatter(
            template=self.llama.metadata["tokenizer.chat_template"],
            eos_token=special(self.llama.token_eos()),
            bos_token=special(self.llama.token_bos()) if self.llama.token_bos() >= 0 else "",
        )
        self.system_tokens: int | None = None

    def count(self, messages: list[BaseMessage]) -> tuple[int, int]:
        """(whole prompt, the part after the system message) in tokens."""
        dicts = _to_openai_messages(messages)
        total = self._tokens(self.format(messages=dicts).prompt)
        if self.system_tokens is None:
            # The system turn as the template renders it before the first user turn.
            rendered = self.format(messages=dicts).prompt
            head = rendered[: rendered.index(dicts[1]["content"])] if len(dicts) > 1 else rendered
            self.system_tokens = self._tokens(head)
        return total, total - self.system_tokens

    def _tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))


def stats(values: list[float]) -> str:
    if not values:
        return "–"
    return (
        f"{statistics.fmean(values):7.1f} / {percentile(values, 50):7.1f} / {percentile(values, 95):7.1f}"
    )


def share(hits: list[bool]) -> str:
    return f"{sum(hits) / len(hits):.3f} ({sum(hits)}/{len(hits)})" if hits else "–"


def run_dataset(
    spec: str, settings: Settings, tokens: PromptTokens, seed: int, unanswerable: float, budgets: list[int]
) -> None:
    path, _, size = spec.rpartition(":") if ":" in spec else (spec, "", "")
    dataset = load_dataset(path)
    questions = select_questions(dataset.questions, sample=int(size) if size else None, seed=seed)
    plan = plan_unanswerable(questions, unanswerable, seed)
    # (label, adaptive passage count, shared character budget)
    variants = [("all k", False, None), ("adaptive", True, None)]
    variants += [(f"+{b} chars", True, b) for b in budgets]
    rows: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in variants}
    started = time.perf_counter()
    with isolated_index(settings, dataset, plan.removed_doc_ids) as (store, _):
        set_query_threads(settings.query_threads)
        searcher = HybridSearcher(store, embeddings_from_settings(settings), FusionConfig.from_settings(settings))
        for label, adaptive, budget in variants:
            recorder = PromptRecorder()
            pipeline = AnswerPipeline(
                searcher, recorder, engine="local", passages=settings.answer_passages,
                passage_chars=settings.answer_passage_chars, prompt_chars=budget, adaptive_passages=adaptive,
                min_coverage=settings.abstain_min_score,
            )
            for planned in plan.questions:
                before = len(recorder.prompts)
                answer = pipeline.answer(AnswerRequest(question=planned.question.question))
                if len(recorder.prompts) == before:
                    continue  # abstained before the model (relevance): no prompt
                messages = recorder.prompts[-1]
                blocks = {int(n): text for n, text in _BLOCK.findall(str(messages[-1].content))}
                docs = {c.n: c.doc_id for c in answer.sources}
                golds = [g for g in (normalize_compact(a) for a in planned.question.answers) if g]
                prompt_text = normalize_compact("".join(blocks.values()))
                total, after_system = tokens.count(messages)
                rows[label].append({
                    "id": planned.question.id,
                    "answerable": not planned.should_abstain,
                    "tokens": total,
                    "user_tokens": after_system,
                    "passages": len(blocks),
                    "gold_answer": any(g in prompt_text for g in golds) if golds else None,
                    "gold_doc": any(docs.get(n) in planned.gold_doc_ids for n in blocks),
                })
    print(f"\n== {dataset.name}: {len(plan.questions)} questions (sample {size or 'all'}, seed {seed}, "
          f"{sum(p.should_abstain for p in plan.questions)} made unanswerable), {time.perf_counter() - started:.0f} s")
    print(f"{'':10} {'prompts':>7}  {'tokens mean / p50 / p95':>25}  {'after system prompt':>25}  "
          f"{'passages 1/2/3+':>15}  {'gold answer in prompt':>22}  {'gold doc in prompt':>22}")
    for label, _, _ in variants:
        got = rows[label]
        counts = [sum(r["passages"] == 1 for r in got), sum(r["passages"] == 2 for r in got),
                  sum(r["passages"] >= 3 for r in got)]
        answerable = [r for r in got if r["answerable"]]
        print(
            f"{label:10} {len(got):>7}  {stats([r['tokens'] for r in got]):>25}  "
            f"{stats([r['user_tokens'] for r in got]):>25}  {'/'.join(map(str, counts)):>15}  "
            f"{share([r['gold_answer'] for r in answerable if r['gold_answer'] is not None]):>22}  "
            f"{share([r['gold_doc'] for r in answerable]):>22}"
        )
    same = len({frozenset(r["id"] for r in got) for got in rows.values()}) == 1
    print(f"same questions reached the model in both variants: {same}; system prompt {tokens.system_tokens} tokens")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", default=list(DEFAULT_SETS), help="DATASET_DIR[:SAMPLE]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--unanswerable-share", type=float, default=0.2, help="as `yakuba eval answers`")
    parser.add_argument("--budgets", type=int, nargs="*", default=[600, 900],
                        help="shared passage-character budgets to compare (answer_prompt_chars)")
    args = parser.parse_args()
    settings = Settings()
    gguf = resolve_gguf(settings.chat_model, settings.model_cache)  # the configured GGUF (the lead built it)
    print(f"tokenizer: {gguf.name}; k={settings.answer_passages}, {settings.answer_passage_chars} chars/passage, "
          f"embedding {settings.embedding_model}")
    tokens = PromptTokens(gguf)
    for spec in args.datasets:
        run_dataset(spec, settings, tokens, args.seed, args.unanswerable_share, args.budgets)


if __name__ == "__main__":
    main()
