"""Prompt-lookup decoding without paying for it in prefill (issue #17).

llama-cpp-python verifies drafted tokens with the logits of every drafted position, so with a draft
model it switches on `logits_all` for the whole context: prefill then projects every prompt token onto
the 151,936-token vocabulary (~18% more work per token for Qwen2.5-1.5B) and copies those rows into
a numpy array (~0.8 GB for a 1,300-token prompt). Measured on 2 cores that cost +6.6 s to the first
token and ate the 1.49× faster decoding (docs/llm.md). Only the verification batches need every
position's logits: the sampler reads them from llama.cpp's own output buffer (negative indices into
the last batch), never from the numpy copy. `DraftVerifyingLlama` therefore asks llama.cpp for all
logits of a batch only when it is a verification batch (the sampled token plus at most the drafted
ones), and for the last position otherwise, and keeps no numpy copy. What it cannot serve: `logprobs`
and `stopping_criteria`, which read that copy (the assistant uses neither).

The class is built on first use so that importing this module does not load llama.cpp.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any


@cache
def draft_verifying_llama() -> type[Any]:
    """`llama_cpp.Llama` whose prefill computes only the last position's logits (see module doc)."""
    from llama_cpp import Llama

    class DraftVerifyingLlama(Llama):  # type: ignore[misc]
        def __init__(self, *args: Any, draft_tokens: int, **kwargs: Any) -> None:
            # A verification batch holds the sampled token and up to `draft_tokens` drafted ones.
            self._verify_batch = draft_tokens + 1
            # Not the whole context's logits: that is what this class is for (and `scores` stays small).
            super().__init__(*args, logits_all=False, **kwargs)

        def eval(self, tokens: Sequence[int]) -> None:
            self._ctx.kv_cache_seq_rm(-1, self.n_tokens, -1)
            every_position = len(tokens) <= self._verify_batch
            for i in range(0, len(tokens), self.n_batch):
                batch = tokens[i : min(len(tokens), i + self.n_batch)]
                n_past = self.n_tokens
                self._batch.set_batch(batch=batch, n_past=n_past, logits_all=every_position)
                self._ctx.decode(self._batch)
                self.input_ids[n_past : n_past + len(batch)] = batch
                self.n_tokens += len(batch)
                self._requires_eval = False

    return DraftVerifyingLlama
