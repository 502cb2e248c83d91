"""How a question and a trajectory become the text a model reads: ``plain`` or ``chat``.

``plain`` (the paper's, and the tiny model's) is the text format itself::

    Q: <question>
    Answer: Let's think step by step.<instruction>
    (1) ...

with BOS in front exactly when the tokenizer adds BOS to ordinary text, and EOS after a
trajectory that ends. ``chat`` puts the question in a user turn of the model's chat template and
the trajectory in the assistant turn; the assistant turn starts with the ``Answer: ...`` line
(prefilled when decoding, so the continuation is read by the same parser), and ends with the
template's end-of-turn text, whose first token also stops decoding.

Stage files always hold the plain text; the format is applied when a sample is encoded for
training or a prompt for decoding, so one run directory's data serves both formats.
"""

from __future__ import annotations

from typing import Literal

from transformers import PreTrainedTokenizerBase

from tripost.trajectory import ANSWER_PREFIX, render_prompt

_MARK = "\u2063TRIPOST_ASSISTANT\u2063"  # an invisible separator nobody writes


class PromptFormatError(ValueError):
    """A tokenizer that cannot be used with the requested format; one line."""


class PromptFormat:
    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        format: Literal["plain", "chat"] = "plain",
        system: str | None = None,
    ) -> None:
        self.format = format
        self.system = system
        self.tokenizer = tokenizer
        if format == "chat":
            if not getattr(tokenizer, "chat_template", None):
                raise PromptFormatError(
                    "prompt.format: chat: this tokenizer has no chat template "
                    "(use prompt.format: plain, or a tokenizer with chat_template)"
                )
            self._head, self._tail = self._split_template()
        elif format != "plain":
            raise PromptFormatError(f"prompt.format: {format!r} is not plain or chat")

    # -- what decoding continues -----------------------------------------------------------

    def prompt(self, question: str, instruction: str = "") -> str:
        if self.format == "plain":
            return render_prompt(question, instruction)
        return self._chat_head(question) + f"{ANSWER_PREFIX}{instruction}\n"

    @property
    def add_bos(self) -> bool:
        """Whether encoded prompts get the tokenizer's BOS (a chat template writes its own)."""
        return self.format == "plain"

    def stop_ids(self) -> list[int]:
        """Extra token ids that end decoding: the chat template's end of turn."""
        if self.format == "plain" or not self._tail:
            return []
        ids = self.tokenizer.encode(self._tail, add_special_tokens=False)
        return ids[:1]

    # -- what training reads ---------------------------------------------------------------

    def sample(self, sample):
        """A plain ``Sample`` (its first segment is the plain prompt) in this format."""
        if self.format == "plain":
            return sample
        from tripost.training import Sample

        (first, _), *rest = sample.segments
        question, instruction = parse_plain_prompt(first)
        segments = [(self.prompt(question, instruction), 0.0)]  # loss on the assistant only
        segments += rest
        if sample.eos and self._tail:
            segments.append((self._tail, rest[-1][1] if rest else 1.0))
        return Sample(tuple(segments), eos=sample.eos and not self._tail, whole=sample.whole)

    # -- the chat template -----------------------------------------------------------------

    def _messages(self, question: str) -> list[dict[str, str]]:
        msgs = [{"role": "system", "content": self.system}] if self.system else []
        return msgs + [{"role": "user", "content": question}]

    def _chat_head(self, question: str) -> str:
        return self._render(question).split(_MARK)[0]

    def _render(self, question: str) -> str:
        msgs = self._messages(question) + [{"role": "assistant", "content": _MARK}]
        return self.tokenizer.apply_chat_template(msgs, tokenize=False)

    def _split_template(self) -> tuple[str, str]:
        """(text before the assistant's content, text after it) of a rendered conversation."""
        try:
            text = self._render("?")
        except Exception as e:  # jinja errors of a user's template
            raise PromptFormatError(f"prompt.format: chat: the chat template fails ({e})") from None
        if text.count(_MARK) != 1:
            raise PromptFormatError(
                "prompt.format: chat: the chat template does not write the assistant's content "
                "verbatim"
            )
        head, tail = text.split(_MARK)
        return head, tail


def parse_plain_prompt(text: str) -> tuple[str, str]:
    """(question, instruction) of a plain prompt written by ``render_prompt``."""
    if not text.startswith("Q: "):
        raise ValueError(f"not a plain prompt: {text[:40]!r}")
    question, sep, line = text[3:].rpartition(f"\n{ANSWER_PREFIX}")
    if not sep or not line.endswith("\n"):
        raise ValueError(f"not a plain prompt: {text[:40]!r}")
    return question, line[:-1]
