"""Discrete prompts: an instruction, its position, an answer cue, a verbalizer set and ``k``
demonstrations, each chosen from a candidate pool, relaxed to a point ``z`` of concatenated
categorical logits (one block per slot; a point decodes to the argmax of each block), as in
BDPL (Diao et al., "Black-box Prompt Learning for Pre-trained Language Models", TMLR 2023,
https://arxiv.org/abs/2201.08531). The tweet comes before the instruction unless the position
slot says otherwise, so the server computes each tweet once for every candidate instruction;
both positions are searched by default (on SmolLM2 the instruction-first prompts are the strong
ones). The instruction pool can grow with paraphrases the served model writes itself
(``apps.prompt.paraphrase``, InstructZero-style).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from apps.prompt.data import Example, PromptTask

__all__ = ["DiscreteCandidate", "DiscreteSpace", "seed_instructions"]

INSTRUCTIONS = (
    "",
    "Is the sentiment of this {input} {labels}?",
    "What is the sentiment of this {input}: {labels}?",
    "Classify the sentiment of the {input} above as {labels}.",
    "Question: is the {input} above {labels}?",
    "Decide whether the {input} expresses a {labels} opinion.",
    "How does the writer feel? Answer {labels}.",
    "Read the {input} and say if it is {labels}.",
    "Is this {input} {labels}?",
    "Does this {input} express a {labels} sentiment?",
    "Is the following {input} {labels}?",
)
ANSWERS = ("Sentiment:", "Answer:", "The sentiment is", "The {input} is")
SENTIMENT_VERBALIZERS = (("positive", "negative"), ("Positive", "Negative"), ("good", "bad"),
                         ("happy", "sad"), ("great", "terrible"))


@dataclass(frozen=True)
class DiscreteCandidate:
    instruction: str
    before: bool  # instruction before the demonstrations and the input
    answer: str
    verbalizers: tuple[str, ...]
    demos: tuple[Example, ...]
    input_name: str = "Text"

    def _block(self, text: str) -> str:
        inst = f"{self.instruction}\n" if self.instruction and not self.before else ""
        return f"{self.input_name}: {text}\n{inst}{self.answer}"

    def prefix(self, text: str) -> str:
        head = f"{self.instruction}\n" if self.instruction and self.before else ""
        demos = "".join(f"{self._block(d.text)} {self.verbalizers[d.label]}\n\n"
                        for d in self.demos)
        return head + demos + self._block(text)

    def extra(self) -> dict[str, Any]:
        return {}

    def template(self) -> str:
        """The prompt with ``{text}`` where the input goes (followed by a verbalizer)."""
        return self.prefix("{text}")

    def key(self) -> tuple[Any, ...]:
        """What the prompt is (two slot choices that give the same prompt share a key)."""
        return (self.instruction, self.before, self.answer, self.verbalizers,
                tuple(d.text for d in self.demos))

    def describe(self) -> dict[str, Any]:
        return {"template": self.template(), "verbalizers": list(self.verbalizers),
                "instruction": self.instruction, "instruction_first": self.before,
                "answer": self.answer, "demonstrations": [d.text for d in self.demos]}


class DiscreteSpace:
    """The slots, their pools and the point <-> candidate maps."""

    def __init__(self, task: PromptTask, *, instructions: Sequence[str] = INSTRUCTIONS,
                 answers: Sequence[str] = ANSWERS,
                 verbalizer_pool: Sequence[Sequence[str]] = (), k_demos: int = 2,
                 n_demo_pool: int = 6, start: tuple[str, str] = ("", "Sentiment:"),
                 instruction_first: Sequence[bool] = (False, True),
                 extra_instructions: Sequence[str] = ()) -> None:
        self.task = task
        self.instructions = list(dict.fromkeys(
            [start[0]] + seed_instructions(task, instructions) + list(extra_instructions)))
        fmt = _fmt(task)
        self.answers = list(dict.fromkeys([start[1]] + [a.format(**fmt) for a in answers]))
        pool = [tuple(task.verbalizers)] + [tuple(v) for v in verbalizer_pool
                                            if len(v) == len(task.labels)]
        self.verbalizers = list(dict.fromkeys(pool))
        self.demo_pool = list(task.pool[:n_demo_pool])
        self.k_demos = k_demos if self.demo_pool else 0
        self.positions = list(dict.fromkeys(instruction_first))
        self.sizes = [len(self.instructions), len(self.positions), len(self.answers),
                      len(self.verbalizers)] + \
            [len(self.demo_pool) + 1] * self.k_demos  # demo choice 0: none
        self.dim = int(sum(self.sizes))

    def decode(self, z: NDArray[np.float64]) -> DiscreteCandidate:
        return self.candidate(self.indices(z))

    def indices(self, z: NDArray[np.float64]) -> list[int]:
        out, at = [], 0
        for n in self.sizes:
            out.append(int(np.argmax(z[at:at + n])))
            at += n
        return out

    def candidate(self, idx: Sequence[int]) -> DiscreteCandidate:
        demos = tuple(self.demo_pool[j - 1] for j in idx[4:] if j > 0)
        inst = self.instructions[idx[0]]
        return DiscreteCandidate(inst, self.positions[idx[1]] and bool(inst),
                                 self.answers[idx[2]],
                                 self.verbalizers[idx[3]], demos, self.task.input_name)

    def encode(self, idx: Sequence[int], scale: float = 1.0) -> NDArray[np.float64]:
        """A point that decodes to ``idx`` (``scale`` at the chosen entries, 0 elsewhere)."""
        z, at = np.zeros(self.dim), 0
        for n, i in zip(self.sizes, idx):
            z[at + i] = scale
            at += n
        return z

    def start(self) -> list[int]:
        """The manual starting template: no instruction, the first answer cue, the task's
        verbalizers, no demonstrations."""
        return [0] * len(self.sizes)


def _fmt(task: PromptTask) -> dict[str, str]:
    return {"input": task.input_name.lower(), "labels": " or ".join(task.labels)}


def seed_instructions(task: PromptTask, instructions: Sequence[str] = INSTRUCTIONS) -> list[str]:
    """The pool's non-empty instructions written for ``task`` (its input name, its labels)."""
    fmt = _fmt(task)
    return [i.format(**fmt) for i in dict.fromkeys(instructions) if i]
