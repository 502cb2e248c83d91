"""Policy loading: any Hugging Face causal LM by path or hub id, or the demo's tiny model.

The tiny model is a normal Hugging Face checkpoint: a small ``LlamaConfig`` with random weights
and a character-level ``PreTrainedTokenizerFast`` (one token per character), so that
``AutoModelForCausalLM.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)`` load it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)

from tripost import processes
from tripost.hostspeed import bf16_pays
from tripost.settings import TinyModelConfig as TinyModelConfig
from tripost.trajectory import ANSWER_PREFIX, FINAL

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]
CHARS = ["\n"] + [chr(i) for i in range(32, 127)]


@dataclass
class Policy:
    """A causal LM and its tokenizer, with what decoding and training need to know of them.

    ``model`` may be a peft model (LoRA adapters over a frozen base); ``save`` then writes the
    adapter, whose ``adapter_config.json`` records the base (an absolute path or a hub id), and
    ``load_policy`` on that directory loads base + adapter again, trainable.
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    # the full weights when training sharded them across processes (FSDP, DeepSpeed ZeRO):
    # what ``save`` writes instead of the model's own (sharded) state
    full_state: dict | None = None

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def is_adapter(self) -> bool:
        return hasattr(self.model, "peft_config")

    def save(self, path: str | Path) -> None:
        """Write a normal HF checkpoint (safetensors weights, config, tokenizer), or a peft
        adapter directory for a LoRA model."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path, safe_serialization=True, state_dict=self.full_state)
        self.tokenizer.save_pretrained(path)

    def stop_ids(self) -> list[int]:
        """Token ids that end generation: the tokenizer's EOS and every EOS id of the model's
        ``generation_config`` (Llama-3 and Qwen instruct models list several)."""
        return eos_ids(self.tokenizer, getattr(self.model, "generation_config", None))

    def bos_ids(self) -> list[int]:
        """``[bos]`` when the tokenizer adds BOS to ordinary text (Llama-3-style), else ``[]``."""
        return bos_prefix(self.tokenizer)


def eos_ids(tokenizer: PreTrainedTokenizerBase, generation_config=None) -> list[int]:
    """The tokenizer's EOS and every EOS id of a ``generation_config`` (or None)."""
    ids = [tokenizer.eos_token_id]
    extra = getattr(generation_config, "eos_token_id", None)
    ids += extra if isinstance(extra, (list, tuple)) else [extra]
    return sorted({int(i) for i in ids if i is not None})


def bos_prefix(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """``[bos]`` exactly when the tokenizer puts BOS in front of ordinary text."""
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    ids = tokenizer("a").input_ids
    plain = tokenizer.encode("a", add_special_tokens=False)
    return [bos] if ids[:1] == [bos] and plain[:1] != [bos] else []


#: the ``number`` tokenizer's extra tokens: spaced operators and integers of up to 3 digits
OPERATOR_TOKENS = [" + ", " - ", " * ", " = "]
NUMBER_TOKENS = [str(i) for i in range(-999, 1000)]
_NUMBER_RE = r" [-+*=] |(?<![0-9])(?:0|-?[1-9][0-9]{0,2})(?![0-9])|"


#: the answer format's recurring pieces, one token each with ``model.tiny.format_pieces``: the
#: answer's opening, step labels, the final response's opening, the comma and colon that
#: follow numbers and step heads, and the full stop that ends a line (one token across a
#: training trajectory's segments too: samples are tokenized as whole texts,
#: :func:`tripost.training.encode_sample`; docs/ablations.md §35-§36)
FORMAT_PIECES = [
    ANSWER_PREFIX + "\n",
    f"({FINAL}) So the answer is ",
    *(f"({i}) " for i in range(1, 31)),
    ", ",
    ": ",
    ".\n",
]


def build_char_tokenizer(
    words: Iterable[str] = (), numbers: bool = False, pieces: Iterable[str] = ()
) -> PreTrainedTokenizerFast:
    """One token per printable ASCII character and newline; anything else is ``<unk>``.

    With ``words``, each of those words is one token too (``"pardon"`` -> 1 token); a word
    that is not among them is split into characters, so no text is ever lost. With
    ``numbers``, so is each integer of up to 3 digits (``"-189"``; a longer one is split into
    characters) and each operator between two spaces (``" * "``). Each of ``pieces`` (any
    strings, e.g. :data:`FORMAT_PIECES`) is one token wherever it occurs, before all else.
    """
    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + CHARS)}
    extra = sorted(set(words) - set(vocab))
    vocab.update({w: i for i, w in enumerate(extra, start=len(vocab))})
    if numbers:
        more = [t for t in OPERATOR_TOKENS + NUMBER_TOKENS if t not in vocab]
        vocab.update({t: i for i, t in enumerate(more, start=len(vocab))})
    pieces = sorted(set(pieces) - set(vocab), key=lambda p: (-len(p), p))  # longest first
    vocab.update({p: i for i, p in enumerate(pieces, start=len(vocab))})
    # a whole known word (the trie tries longer words first), else any single character
    pattern = (r"\b" + _trie_regex(extra) + r"\b|" if extra else "") + r"[\s\S]"
    if numbers:
        pattern = _NUMBER_RE + pattern
    if pieces:
        pattern = "|".join(re.escape(p) for p in pieces) + "|" + pattern
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex(pattern), behavior="isolated")
    tk.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        padding_side="right",
    )


def _trie_regex(words: list[str]) -> str:
    """A regex matching exactly ``words``, factored as a trie (``par(?:don|k)``): an
    alternation of thousands of words is that many times slower to match."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        ends = "" in node
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if ends:  # the word may end here: longer continuations are tried first
            return "(?:" + body + ")?"
        return body

    return "(?:" + build(trie) + ")"


def text_words(texts: Iterable[str]) -> set[str]:
    """Words (2+ ASCII letters) of some texts: the word vocabulary of a ``word`` tokenizer."""
    return {w for t in texts for w in re.findall(r"\b[A-Za-z]{2,}\b", t)}


def init_number_embeddings(model: PreTrainedModel, tok, keep: float = 0.5) -> None:
    """Give each integer token of ``tok`` an embedding made of ``keep`` of its random init and
    ``1 - keep`` (in variance) of a sum of parts: its sign and the digits of its absolute value
    zero-padded to 3 places (``-42``: minus + hundreds 0 + tens 4 + units 2), each part drawn
    once at half the init std. Numbers that share digits then start out alike (and, with tied
    embeddings, a number's logit as a sum of per-digit scores) while each keeps its identity."""
    emb = model.get_input_embeddings().weight
    parts = torch.randn(2 + 3 * 10, emb.shape[1]) * (emb.std().item() / 2)
    with torch.no_grad():
        for text, i in tok.get_vocab().items():
            if re.fullmatch(r"-?\d{1,3}", text):
                v = abs(int(text))
                rows = [int(text[0] == "-"), 2 + v // 100, 12 + v // 10 % 10, 22 + v % 10]
                emb[i] = keep**0.5 * emb[i] + (1 - keep) ** 0.5 * parts[rows].sum(0)


def build_tiny_policy(cfg: TinyModelConfig, seed: int = 0, texts: Iterable[str] = ()) -> Policy:
    """A randomly initialised tiny Llama with the character tokenizer (``cfg.tokenizer ==
    "word"``: plus one token per word of ``texts``, e.g. the training texts; ``"number"``: also
    one per integer of up to 3 digits and per spaced operator)."""
    words = text_words(texts) if cfg.tokenizer in ("word", "number") else ()
    pieces = FORMAT_PIECES if cfg.format_pieces else ()
    tok = build_char_tokenizer(words, numbers=cfg.tokenizer == "number", pieces=pieces)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    if cfg.tokenizer == "number" and cfg.number_init == "digits":
        init_number_embeddings(model, tok)
    n = sum(p.numel() for p in model.parameters())
    log.info("built tiny Llama: %.2fM parameters", n / 1e6)
    return Policy(model, tok)


class ModelLoadError(ValueError):
    """A model that cannot be loaded or used; the message is one line."""


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: the GPU when there is one, else the CPU; ``cpu``, ``cuda``, ``cuda:N``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ModelLoadError(
            f"model.device: unknown device {name!r} (auto, cpu, cuda, cuda:N)"
        ) from None
    if device.type == "cuda" and processes.world_size() > 1:  # `accelerate launch`
        if device.index is not None:
            raise ModelLoadError(
                f"model.device: {name!r} puts every process of the run on one GPU; use auto or "
                "cuda (each process takes its own GPU)"
            )
        device = torch.device("cuda", processes.local_rank())
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(f"model.device: {name!r} asked for, but no CUDA GPU is available")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ModelLoadError(
                f"model.device: {name!r} asked for, but there are "
                f"{torch.cuda.device_count()} CUDA device(s)"
            )
    elif device.type != "cpu":
        raise ModelLoadError(f"model.device: {name!r} is not supported (auto, cpu, cuda, cuda:N)")
    return device


def checkpoint_dtype(name_or_path: str | Path, trust_remote_code: bool = False) -> torch.dtype:
    """The dtype a checkpoint was saved in (its config's ``dtype``), float32 when unrecorded.
    For an adapter directory, the base model's."""
    base = adapter_base(name_or_path) or name_or_path
    config = AutoConfig.from_pretrained(base, trust_remote_code=trust_remote_code)
    dtype = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(dtype, str):
        dtype = DTYPES.get(dtype)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


def resolve_dtype(name: str, name_or_path: str | Path | None, trust_remote_code=False):
    """``auto``: the checkpoint's own dtype (float32 for the tiny model)."""
    if name != "auto":
        if name not in DTYPES:
            raise ModelLoadError(f"model.dtype: {name!r} is not one of auto, {', '.join(DTYPES)}")
        return DTYPES[name]
    if name_or_path is None:
        return torch.float32
    return checkpoint_dtype(name_or_path, trust_remote_code)


def adapter_base(path: str | Path) -> str | None:
    """The base model recorded in a peft adapter directory, or None for a full checkpoint."""
    cfg = Path(path) / "adapter_config.json"
    if not cfg.is_file():
        return None
    base = json.loads(cfg.read_text()).get("base_model_name_or_path")
    if not base:
        raise ModelLoadError(f"{cfg}: base_model_name_or_path is missing: cannot find the base")
    return base


def local_or_hub(name_or_path: str | Path) -> str:
    """An existing local directory as an absolute path (so that adapters record a base that
    can be found from anywhere); otherwise a hub id. A path that looks local and does not
    exist is an error here, not a confusing hub lookup later."""
    p = Path(name_or_path).expanduser()
    if p.is_dir():
        return str(p.resolve())
    text = str(name_or_path)
    if p.exists() or text.startswith(("/", ".", "~")) or text.count("/") > 1:
        raise ModelLoadError(f"model.path: {text}: no such model directory")
    return text


def load_policy(
    name_or_path: str | Path,
    dtype: str | torch.dtype = "auto",
    trust_remote_code: bool = False,
    lora: dict | None = None,
    device: str | torch.device = "cpu",
    trainable: bool = True,
) -> Policy:
    """Load any HF causal LM: a local checkpoint directory, a hub id (when online), or a peft
    adapter directory written by ``Policy.save`` (its recorded base is loaded, then the adapter,
    trainable so that training continues across iterations).

    ``lora``: peft LoraConfig keyword arguments (e.g. ``{"r": 16, "lora_alpha": 32}``) to wrap a
    full checkpoint in new adapters. ``dtype``: a torch dtype or its name, ``auto`` = the
    checkpoint's own. ``trainable=False`` loads for decoding only.
    """
    name_or_path = local_or_hub(name_or_path)
    base = adapter_base(name_or_path)
    if isinstance(dtype, str):
        dtype = resolve_dtype(dtype, name_or_path, trust_remote_code)
    device = resolve_device(device) if isinstance(device, str) else device
    try:
        tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            base or name_or_path, dtype=dtype, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f"model.path: {name_or_path}: cannot load ({first})") from None
    check_tokenizer(tok, name_or_path)
    if tok.pad_token is None:  # padding is masked out everywhere; any id will do
        tok.pad_token = tok.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    if base is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, name_or_path, is_trainable=trainable)
    elif lora:
        from peft import get_peft_model

        model = get_peft_model(model, lora_config(lora))
    model.to(device)
    if device.type == "cpu" and dtype == torch.bfloat16 and not bf16_pays("cpu"):
        log.warning(
            "model %s runs in bfloat16 on a CPU without fast bf16 matmuls (no AVX512-BF16 / AMX):"
            " model.dtype: float32 is much faster here",
            name_or_path,
        )
    if not trainable:
        model.eval()
    return Policy(model, tok)


def check_tokenizer(tok: PreTrainedTokenizerBase, where: str | Path) -> None:
    if tok.eos_token_id is None:
        raise ModelLoadError(
            f"{where}: the tokenizer has no EOS token: set eos_token in its tokenizer_config.json"
        )


def lora_config(lora: dict):
    """A peft ``LoraConfig`` for a causal LM; peft's own objections as one line."""
    from peft import LoraConfig

    try:
        return LoraConfig(task_type="CAUSAL_LM", **lora)
    except (TypeError, ValueError) as e:
        raise ModelLoadError(f"model.lora: {e}") from None
