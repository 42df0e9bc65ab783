"""Discrete prompts: an instruction, its position, an answer cue, a verbalizer set and ``k``
demonstrations, each chosen from a candidate pool, and, for a chat-tuned model scored through
``/v1/completions``, whether the prompt is written in the model's chat format (the input and the
instruction as the user's turn, the answer cue opening the assistant's turn), relaxed to a point
``z`` of concatenated categorical logits (one block per slot; a point decodes to the argmax of
each block), as in BDPL (Diao et al., "Black-box Prompt Learning for Pre-trained Language
Models", TMLR 2023, https://arxiv.org/abs/2201.08531). The tweet comes before the instruction
unless the position slot says otherwise, so the server computes each tweet once for every
candidate instruction; the space searches both positions unless told otherwise (``tune-prompt``
searches the input first by default). The instruction pool can grow with paraphrases the served
model writes itself (``apps.prompt.paraphrase``, InstructZero-style).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from apps.prompt.data import Example, PromptTask
from blackbox.errors import ConfigError

__all__ = ["CHAT_FORMATS", "PLAIN", "ChatFormat", "DiscreteCandidate", "DiscreteSpace",
           "chat_format", "seed_instructions"]

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
ANSWERS = ("Sentiment:", "Answer:", "The sentiment is", "The {input} is",
           "The sentiment of this {input} is")
SENTIMENT_VERBALIZERS = (("positive", "negative"), ("Positive", "Negative"), ("good", "bad"),
                         ("happy", "sad"), ("great", "terrible"))


@dataclass(frozen=True)
class ChatFormat:
    """How a prompt is wrapped: ``head`` before it, ``turn`` between the user's part (the
    instruction, demonstrations and input) and the answer cue. Plain text: ``("", "\n")``."""

    name: str
    head: str
    turn: str


PLAIN = ChatFormat("plain", "", "\n")
_IM = "<|im_start|>"
CHAT_FORMATS = {
    "chatml": ChatFormat("chatml", f"{_IM}user\n", f"<|im_end|>\n{_IM}assistant\n"),
    # SmolLM2-Instruct's template: ChatML with the default system turn its tokenizer adds
    "smollm2": ChatFormat("smollm2", f"{_IM}system\nYou are a helpful AI assistant named SmolLM, "
                          f"trained by Hugging Face<|im_end|>\n{_IM}user\n",
                          f"<|im_end|>\n{_IM}assistant\n"),
}
AUTO_CHAT = {"smollm2": "smollm2"}  # model name -> the format searched by default


def chat_format(value: str, model: str, scoring: str = "completions") -> ChatFormat | None:
    """The chat format searched next to plain text: ``auto`` (the model's own where known, for
    completions scoring), ``none``, a name in :data:`CHAT_FORMATS`, or a template with
    ``{user}`` where the user's part goes (e.g. ``"[INST] {user} [/INST]"``)."""
    if value == "auto":
        name = AUTO_CHAT.get(model) if scoring == "completions" else None
        return CHAT_FORMATS[name] if name else None
    if value == "none":
        return None
    if scoring != "completions":
        raise ConfigError("--chat-format: chat scoring already sends the prompt as a chat "
                          "message; use --chat-format none (or auto)")
    if value in CHAT_FORMATS:
        return CHAT_FORMATS[value]
    if value.count("{user}") == 1:
        head, turn = value.split("{user}")
        return ChatFormat("custom", head, turn)
    raise ConfigError(f"--chat-format must be auto, none, {', '.join(CHAT_FORMATS)} or a "
                      f"template with one {{user}}, got {value!r}")


@dataclass(frozen=True)
class DiscreteCandidate:
    instruction: str
    before: bool  # instruction before the demonstrations and the input
    answer: str
    verbalizers: tuple[str, ...]
    demos: tuple[Example, ...]
    input_name: str = "Text"
    format: ChatFormat = PLAIN

    def _block(self, text: str, turn: str = "\n") -> str:
        inst = f"\n{self.instruction}" if self.instruction and not self.before else ""
        return f"{self.input_name}: {text}{inst}{turn}{self.answer}"

    def prefix(self, text: str) -> str:
        """The prompt for ``text``: demonstrations in plain text inside the user's part; in a
        chat format only the input's answer cue opens the assistant's turn."""
        head = f"{self.instruction}\n" if self.instruction and self.before else ""
        demos = "".join(f"{self._block(d.text)} {self.verbalizers[d.label]}\n\n"
                        for d in self.demos)
        return self.format.head + head + demos + self._block(text, self.format.turn)

    def extra(self) -> dict[str, Any]:
        return {}

    def template(self) -> str:
        """The prompt with ``{text}`` where the input goes (followed by a verbalizer)."""
        return self.prefix("{text}")

    def key(self) -> tuple[Any, ...]:
        """What the prompt is (two slot choices that give the same prompt share a key)."""
        return (self.instruction, self.before, self.answer, self.verbalizers,
                tuple(d.text for d in self.demos), self.format.name)

    def describe(self) -> dict[str, Any]:
        return {"template": self.template(), "verbalizers": list(self.verbalizers),
                "instruction": self.instruction, "instruction_first": self.before,
                "answer": self.answer, "demonstrations": [d.text for d in self.demos],
                "format": self.format.name}


class DiscreteSpace:
    """The slots, their pools and the point <-> candidate maps."""

    def __init__(self, task: PromptTask, *, instructions: Sequence[str] = INSTRUCTIONS,
                 answers: Sequence[str] = ANSWERS,
                 verbalizer_pool: Sequence[Sequence[str]] = (), k_demos: int = 2,
                 n_demo_pool: int = 6, start: tuple[str, str] = ("", "Sentiment:"),
                 instruction_first: Sequence[bool] = (False, True),
                 extra_instructions: Sequence[str] = (),
                 chat: ChatFormat | None = None) -> None:
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
        self.formats = [PLAIN] + ([chat] if chat is not None else [])
        self.sizes = [len(self.instructions), len(self.positions), len(self.answers),
                      len(self.verbalizers), len(self.formats)] + \
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
        demos = tuple(self.demo_pool[j - 1] for j in idx[5:] if j > 0)
        inst = self.instructions[idx[0]]
        return DiscreteCandidate(inst, self.positions[idx[1]] and bool(inst),
                                 self.answers[idx[2]], self.verbalizers[idx[3]], demos,
                                 self.task.input_name, self.formats[idx[4]])

    def encode(self, idx: Sequence[int], scale: float = 1.0) -> NDArray[np.float64]:
        """A point that decodes to ``idx`` (``scale`` at the chosen entries, 0 elsewhere)."""
        z, at = np.zeros(self.dim), 0
        for n, i in zip(self.sizes, idx):
            z[at + i] = scale
            at += n
        return z

    def start(self) -> list[int]:
        """The manual starting template: no instruction, the first answer cue, the task's
        verbalizers, plain text, no demonstrations."""
        return [0] * len(self.sizes)


def _fmt(task: PromptTask) -> dict[str, str]:
    return {"input": task.input_name.lower(), "labels": " or ".join(task.labels)}


def seed_instructions(task: PromptTask, instructions: Sequence[str] = INSTRUCTIONS) -> list[str]:
    """The pool's non-empty instructions written for ``task`` (its input name, its labels)."""
    fmt = _fmt(task)
    return [i.format(**fmt) for i in dict.fromkeys(instructions) if i]
