"""Ready-made prompt-tuning oracles for the OpenAI-compatible API (used by the example, tests and
benchmark).

:func:`soft_prompt_oracle` tunes ``n_tokens`` continuous prompt vectors (``prompt_embeds``, as
vLLM accepts them) so that a labelled set of reviews gets high label log-probability: the value
of a point is the mean negative log-probability of each example's label, scored with
``/v1/completions`` (``echo`` + ``logprobs``, ``max_tokens = 0``): one request per example and
point, all of a batch's requests sent concurrently.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray

from oracles.http import ModelAPIOracle, OpenAIClient

__all__ = ["REVIEWS", "label_loss", "soft_prompt_oracle"]

REVIEWS: list[tuple[str, str]] = [
    ("a moving, beautifully acted film", "positive"),
    ("dull, slow and far too long", "negative"),
    ("the best thing I have seen this year", "positive"),
    ("a tedious mess with no redeeming scenes", "negative"),
]


def render_example(text: str, label: str) -> str:
    return f"Review: {text}\nSentiment: {label}"


def label_tokens(choice: dict[str, Any], start: int) -> list[float]:
    """Log-probabilities of the tokens that cover text from character ``start`` on (a token that
    straddles ``start`` counts: it carries part of the label). Uses the response's
    ``text_offset`` when present, else the tokens' lengths."""
    lp = choice["logprobs"]
    toks, lps = lp["tokens"], lp["token_logprobs"]
    offs = lp.get("text_offset")
    if offs is None:
        offs = np.cumsum([0] + [len(t) for t in toks[:-1]]).tolist()
    ends = list(offs[1:]) + [len(choice.get("text", "")) or offs[-1] + len(toks[-1])]
    out = [float(v) for o, e, v in zip(offs, ends, lps) if e > start and v is not None]
    if not out:
        raise ValueError(f"no token covers the label (from character {start})")
    return out


def label_loss(response: dict[str, Any], label: str) -> float:
    """Negative log-probability of the label's tokens: the tokens covering the last
    ``len(label)`` characters of the echoed text (by ``text_offset``, so a one-token label sums
    one token, whatever its length in characters)."""
    choice = response["choices"][0]
    return -float(sum(label_tokens(choice, len(choice["text"]) - len(label))))


class _Render:
    """Picklable ``render``: point -> completions body for one example."""

    def __init__(self, text: str, label: str, hidden: int) -> None:
        self.text, self.label, self.hidden = text, label, hidden

    def __call__(self, point: NDArray[np.float64]) -> dict[str, Any]:
        return {"prompt": render_example(self.text, self.label),
                "prompt_embeds": np.asarray(point).reshape(-1, self.hidden).tolist(),
                "echo": True, "logprobs": 1, "max_tokens": 0}


class SoftPromptOracle:
    """Mean label loss over ``examples`` of a soft prompt ``point`` (``n_tokens * hidden``)."""

    def __init__(self, client: OpenAIClient, examples: Sequence[tuple[str, str]], hidden: int,
                 n_tokens: int) -> None:
        self.client, self.examples = client, list(examples)
        self.dim, self.sense, self.name = hidden * n_tokens, "min", "soft_prompt"
        self._oracles = [
            ModelAPIOracle(client, _Render(t, lab, hidden), _Score(lab), dim=self.dim,
                           endpoint="completions", name=self.name)
            for t, lab in self.examples
        ]

    def attach_ledger(self, stats: Any) -> None:
        self.client.attach_ledger(stats)

    def values(self, points: NDArray[np.float64], *, key: Any = None) -> NDArray[np.float64]:
        bodies, scorers = [], []
        for o in self._oracles:
            bodies += [o.render(p) for p in points]
            scorers.append(o.score)
        answers = self.client.map("/completions", bodies)
        n = len(points)
        out = np.zeros(n)
        for j, score in enumerate(scorers):
            for i in range(n):
                a = answers[j * n + i]
                out[i] += np.nan if isinstance(a, BaseException) else score(points[i], a)
        return out / len(scorers)

    def close(self) -> None:
        self.client.close()


class _Score:
    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, point: NDArray[np.float64], response: dict[str, Any]) -> float:
        return label_loss(response, " " + self.label)


def soft_prompt_oracle(base_url: str, *, n_tokens: int = 2, hidden: int = 16,
                       examples: Sequence[tuple[str, str]] = REVIEWS, **client_kw: Any) -> SoftPromptOracle:
    """A :class:`SoftPromptOracle` against ``base_url`` (``hidden`` = the server model's width)."""
    return SoftPromptOracle(OpenAIClient(base_url, **client_kw), examples, hidden, n_tokens)
