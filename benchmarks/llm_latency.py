"""Latency of an answer engine on a typical grounded prompt: time to first token, total time, tokens/s.

The prompt is what the assistant sends for one question: a Japanese system prompt (answer only from
the passages, cite [n], say 「資料に記載がありません」 otherwise), four passages of ~400 characters and a
question. Each run starts with an empty llama.cpp cache (`--keep-cache` to reuse it), because a real
question brings other passages and only the system prompt could be reused.

    .venv/bin/python benchmarks/llm_latency.py                 # local GGUF, settings from YAKUBA_*
    .venv/bin/python benchmarks/llm_latency.py --runs 5 --max-tokens 200
    .venv/bin/python benchmarks/llm_latency.py --prompt-lookup 10     # prompt-lookup decoding (issue #17)
    .venv/bin/python benchmarks/llm_latency.py --question value       # a one-value question, its token cap
    .venv/bin/python benchmarks/llm_latency.py --draft-gguf qwen2.5-coder-0.5b.gguf --draft-tokens 4
        # speculative decoding with a small model of the same tokenizer (issue #17: measured, not adopted)
    YAKUBA_OPENAI_BASE_URL=http://127.0.0.1:11434/v1 YAKUBA_CHAT_MODEL=qwen2.5:7b \\
        .venv/bin/python benchmarks/llm_latency.py --engine openai
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402
from llama_cpp import Llama  # noqa: E402
from llama_cpp.llama_speculative import LlamaDraftModel  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from yakuba.assistant.llm import LlamaCppChatModel, chat_model_for, load_llama  # noqa: E402
from yakuba.assistant.prompts import answer_tokens  # noqa: E402
from yakuba.assistant.speculative import draft_verifying_llama  # noqa: E402
from yakuba.core.settings import Settings  # noqa: E402

SYSTEM = (
    "あなたは町役場の職員を支援するアシスタントです。以下の資料だけを根拠に、日本語で簡潔に答えてください。"
    "根拠とした資料の番号を、文末に [1] のように付けてください。"
    "資料に書かれていないことは推測せず、「資料に記載がありません」と答えてください。"
)

PASSAGES = [
    "児童手当は、中学生まで（令和6年10月分からは高校生年代まで）の児童を養育している方に支給されます。"
    "出生や転入により新たに受給資格が生じたときは、出生日や転入した日（異動日）の翌日から15日以内に、"
    "住所地の役場で認定請求の手続きをしてください。申請が遅れると、原則として遅れた月分の手当を受けられなく"
    "なりますので注意してください。支給額は、3歳未満が月額1万5千円、3歳から高校生年代までが月額1万円、"
    "第3子以降は月額3万円です。所得制限は令和6年10月分から撤廃されました。手当は偶数月（2月、4月、6月、"
    "8月、10月、12月）の15日に、それぞれの前月分までの2か月分を指定の口座に振り込みます。15日が土曜日・"
    "日曜日・祝日の場合は、その直前の平日に振り込みます。公務員の方は勤務先から支給されますので、勤務先に"
    "お問い合わせください。手続きには、請求者名義の通帳またはキャッシュカードの写しと、請求者と配偶者の"
    "マイナンバーが確認できる書類が必要です。",
    "粗大ごみは、一辺の長さが50センチメートルを超える家具や寝具、自転車などで、ごみステーションには出せません。"
    "収集を希望する方は、収集日の1週間前までに、粗大ごみ受付センターに電話またはインターネットで申し込んで"
    "ください。収集は毎月第2水曜日と第4水曜日で、申し込みの際にお伝えする受付番号を記入した処理券を品物の"
    "見やすい場所に貼り、収集日の朝8時30分までに自宅の前など指定された場所に出してください。処理手数料は"
    "1点につき500円で、処理券は町内の指定取扱店または役場環境課の窓口で購入できます。エアコン、テレビ、"
    "冷蔵庫・冷凍庫、洗濯機・衣類乾燥機の家電4品目とパソコンは粗大ごみとして収集できませんので、購入した"
    "販売店か、メーカーの回収窓口にお申し込みください。自分で処分場に持ち込む場合は、10キログラムにつき"
    "100円の手数料がかかります。",
    "住民票の写しは、役場本庁舎の住民課窓口のほか、各出張所で請求できます。請求できるのは本人と同一世帯の方で、"
    "それ以外の方が請求する場合は委任状が必要です。窓口に来る方の本人確認書類（運転免許証、マイナンバー"
    "カード、パスポートなど）をお持ちください。手数料は1通300円です。マイナンバーカードをお持ちの方は、"
    "全国のコンビニエンスストアに設置されたマルチコピー機で、午前6時30分から午後11時まで住民票の写しを"
    "取得でき、手数料は1通200円です。ただし、12月29日から1月3日まではご利用いただけません。郵送で請求する"
    "場合は、請求書、本人確認書類の写し、手数料分の定額小為替、切手を貼った返信用封筒を同封して、住民課へ"
    "お送りください。本籍や筆頭者の記載が必要な場合は、請求書の該当欄に必ずその旨を記入してください。"
    "窓口の受付時間は平日の午前8時45分から午後5時30分までです。",
    "町では、地震や大雨などの災害に備えて、町内23か所の避難所を指定しています。避難所の一覧と地図は、"
    "毎年6月に全戸配布する防災ガイドブックと町のホームページに掲載しています。避難指示が出たときは、"
    "近くの避難所か、安全な親戚・知人宅へ早めに避難してください。避難所には水や食料の備蓄がありますが、"
    "数に限りがあるため、最低3日分、できれば1週間分の飲料水と食料、常備薬、携帯トイレなどを各家庭で"
    "用意しておきましょう。ペットと一緒に避難できる避難所は、総合体育館と第二小学校の2か所です。ケージや"
    "餌はご自身でご用意ください。高齢の方や障がいのある方など、避難に支援が必要な方は、避難行動要支援者"
    "名簿への登録を福祉課で受け付けています。登録された情報は、本人の同意のもとで民生委員や自主防災組織と"
    "共有し、災害時の安否確認や避難の支援に役立てます。",
]
QUESTION = "児童手当の申請はいつまでにすればよいですか。また、手当はいつ振り込まれますか。"
# Question types (issue #17): the default asks two things; `value` asks one amount, which the assistant
# answers under prompts.VALUE_ANSWER_TOKENS; `summary` asks for an overview of all passages.
QUESTIONS = {
    "default": QUESTION,
    "value": "粗大ごみの処理手数料は1点につきいくらですか。",
    "summary": "これらの資料に書かれている町の手続きやサービスを、それぞれ簡単にまとめてください。",
}


class SmallModelDraft(LlamaDraftModel):
    """Speculative decoding's drafter: a small GGUF with the same tokenizer proposes `tokens` greedy tokens,
    which the big model verifies in one batch. Kept here, not in the serving path, because on 2 cores it
    was measured slower than plain decoding (docs/llm.md)."""

    def __init__(self, path: str, tokens: int, n_ctx: int, n_threads: int) -> None:
        self.llama = Llama(
            model_path=path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads, verbose=False
        )
        self.tokens = tokens
        self.vocab = self.llama.n_vocab()
        self.seconds = 0.0

    def __call__(self, input_ids: np.ndarray, /, **kwargs: object) -> np.ndarray:
        started = time.perf_counter()
        ids = [int(t) for t in input_ids]
        cached = self.llama.input_ids[: self.llama.n_tokens].tolist()
        common = 0
        while common < min(len(cached), len(ids) - 1) and cached[common] == ids[common]:
            common += 1
        self.llama.n_tokens = common  # eval() drops the KV cache beyond n_tokens
        self.llama.eval(ids[common:])
        drafted: list[int] = []
        for _ in range(self.tokens):
            token = int(np.argmax(np.ctypeslib.as_array(self.llama._ctx.get_logits(), shape=(self.vocab,))))
            if token == self.llama.token_eos():
                break
            drafted.append(token)
            self.llama.eval([token])
        self.seconds += time.perf_counter() - started
        return np.array(drafted, dtype=np.intc)


def build_messages(question: str = QUESTION) -> list:
    numbered = "\n\n".join(f"[{n}] {text}" for n, text in enumerate(PASSAGES, start=1))
    return [SystemMessage(SYSTEM), HumanMessage(f"資料:\n{numbered}\n\n質問: {question}")]


def draft_with_small_model(
    llama: Llama, model: LlamaCppChatModel, path: str, tokens: int, console: Console
) -> Llama:
    """Reload the big model with every position's logits kept (llama-cpp-python verifies drafts with them)
    and the small model as its drafter, after checking the two tokenise Japanese identically."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"GGUF":
            raise SystemExit(f"{path}: not a GGUF file")
    draft = SmallModelDraft(path, tokens, model.n_ctx, model.n_threads)
    sample = "令和7年度南国市一般会計補正予算の歳入歳出補正予算の規模は1,192,893千円です。".encode()
    if draft.llama.tokenize(sample) != llama.tokenize(sample):
        raise SystemExit(
            "the draft model tokenises differently: speculative decoding needs the same tokenizer"
        )
    console.print(
        f"draft model: {draft.llama.metadata.get('general.name')} ({path}), {tokens} tokens per step"
    )
    big = draft_verifying_llama()(
        model_path=model.model_path,
        n_ctx=model.n_ctx,
        n_threads=model.n_threads,
        n_threads_batch=model.n_threads,
        draft_model=draft,
        draft_tokens=tokens,
        verbose=False,
    )
    loaded = load_llama(model.model_path, model.n_ctx, model.n_threads, model.prompt_lookup)
    loaded.llama = big  # the chat model fetches its Llama through load_llama's cache
    return big


def count_forward_passes(llama: Llama) -> list[int]:
    """A counter (one-item list) of the model's forward passes: a prompt-lookup or speculative step
    that the model accepts produces several tokens in one pass."""
    counter = [0]
    evaluate = llama.eval

    def counted(tokens):  # type: ignore[no-untyped-def]
        counter[0] += 1
        return evaluate(tokens)

    llama.eval = counted  # type: ignore[method-assign]
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["local", "openai"], default="local")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=None, help="default: YAKUBA_LLM_MAX_TOKENS")
    parser.add_argument("--timeout", type=float, default=900.0, help="llm_timeout_s for the runs")
    parser.add_argument("--keep-cache", action="store_true", help="let llama.cpp reuse the cached prompt")
    parser.add_argument("--show-answer", action="store_true")
    parser.add_argument(
        "--prompt-lookup",
        type=int,
        default=None,
        help="draft N tokens by prompt lookup (LlamaPromptLookupDecoding); 0 = off",
    )
    parser.add_argument(
        "--question",
        choices=sorted(QUESTIONS),
        default="default",
        help="question type; `value` also applies the assistant's token cap for one-value answers",
    )
    parser.add_argument(
        "--draft-gguf",
        default=None,
        help="speculative decoding: a small GGUF with the same tokenizer drafts tokens",
    )
    parser.add_argument("--draft-tokens", type=int, default=4, help="tokens the small model drafts per step")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    settings = Settings().model_copy(update={"llm_timeout_s": args.timeout})
    if args.max_tokens:
        settings = settings.model_copy(update={"llm_max_tokens": args.max_tokens})
    question = QUESTIONS[args.question]
    cap = answer_tokens(question)
    if cap and not args.max_tokens:
        settings = settings.model_copy(update={"llm_max_tokens": min(cap, settings.llm_max_tokens)})
    if args.prompt_lookup is not None:
        settings = settings.model_copy(update={"llm_prompt_lookup": args.prompt_lookup})
    console = Console()
    messages = build_messages(question)
    chars = sum(len(m.content) for m in messages)

    started = time.perf_counter()
    model = chat_model_for(settings, args.engine)
    resolve_s = time.perf_counter() - started
    llama = None
    load_s = 0.0
    if isinstance(model, LlamaCppChatModel):
        started = time.perf_counter()
        llama = load_llama(model.model_path, model.n_ctx, model.n_threads, model.prompt_lookup).llama
        if args.draft_gguf:
            llama = draft_with_small_model(llama, model, args.draft_gguf, args.draft_tokens, console)
        load_s = time.perf_counter() - started

    # One non-streamed call: exact prompt token count (and a warm-up of the weights' page cache).
    if llama is not None:
        llama.reset()
    warm = model.invoke(messages)
    prompt_tokens = (warm.usage_metadata or {}).get("input_tokens", 0)

    passes = count_forward_passes(llama) if llama is not None else None
    rows = []
    answer = ""
    for _ in range(args.runs):
        if llama is not None and not args.keep_cache:
            llama.reset()
        if passes is not None:
            passes[0] = 0
        started = time.perf_counter()
        cpu_started = time.process_time()
        first = None
        parts: list[str] = []
        usage_out = 0
        for chunk in model.stream(messages):
            if chunk.content:
                if first is None:
                    first = time.perf_counter() - started
                parts.append(chunk.content)
            if chunk.usage_metadata:
                usage_out = chunk.usage_metadata.get("output_tokens", 0)
        total = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        answer = "".join(parts)
        if llama is not None:
            out_tokens = len(llama.tokenize(answer.encode("utf-8"), add_bos=False, special=False))
        else:
            out_tokens = usage_out or len(parts)
        first = first if first is not None else total
        decode_s = max(total - first, 1e-9)
        rows.append(
            {
                "ttft": first,
                "total": total,
                "cpu": cpu,
                "out": out_tokens,
                "prefill_tps": prompt_tokens / first if first else 0.0,
                "decode_tps": max(out_tokens - 1, 0) / decode_s,
                # tokens per decoding forward pass (the first pass reads the prompt): 1.0 without drafts
                "per_pass": out_tokens / max(passes[0] - 1, 1) if passes is not None else 0.0,
            }
        )

    title = (
        f"engine={args.engine} model={settings.chat_model} threads={settings.llm_threads} "
        f"max_tokens={settings.llm_max_tokens} cache={'kept' if args.keep_cache else 'reset'} "
        f"question={args.question} prompt_lookup={settings.llm_prompt_lookup} "
        f"japanese_only={settings.llm_japanese_only}"
    )
    table = Table(title=title)
    for column in ("run", "TTFT s", "total s", "CPU s", "out tokens", "prefill tok/s", "decode tok/s", "tok/pass"):
        table.add_column(column, justify="right")
    for n, row in enumerate(rows, start=1):
        table.add_row(
            str(n),
            f"{row['ttft']:.2f}",
            f"{row['total']:.2f}",
            f"{row['cpu']:.1f}",
            str(row["out"]),
            f"{row['prefill_tps']:.1f}",
            f"{row['decode_tps']:.1f}",
            f"{row['per_pass']:.2f}",
        )
    table.add_row(
        "median",
        *(
            f"{statistics.median(r[k] for r in rows):.2f}"
            if k in ("ttft", "total")
            else f"{statistics.median(r[k] for r in rows):.1f}"
            for k in ("ttft", "total", "cpu", "out", "prefill_tps", "decode_tps", "per_pass")
        ),
    )
    console.print(table)
    console.print(
        f"prompt: {chars} characters, {prompt_tokens} tokens (system + 4 passages + question); "
        f"resolve {resolve_s:.2f}s, model load {load_s:.2f}s; CPU: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores visible; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
        f"1-min load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after (this run adds ~threads)"
    )
    if load_before > 0.5:
        console.print(
            "[yellow]Other work was running (load average before the run above 0.5): the times "
            "are inflated; rerun on a quiet machine for reference numbers.[/]"
        )
    if args.show_answer:
        console.print(f"[bold]answer:[/] {answer}")


if __name__ == "__main__":
    main()
