"""A small random checkpoint of a real architecture, built in the test, for the real-model path.

Not the demo's tiny model: a Llama with grouped-query attention (4 query heads, 2 key/value
heads) and a byte-level BPE tokenizer trained here on task text, which adds BOS to ordinary text
(as Llama-3's does), has EOS but no pad token, and has a ChatML chat template whose end of turn
``<|im_end|>`` is a special token that the generation config lists as an EOS id.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

BOS, EOS, END_TURN = "<|begin_of_text|>", "<|end_of_text|>", "<|im_end|>"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def bpe_tokenizer(texts: list[str], vocab_size: int = 400) -> PreTrainedTokenizerFast:
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS, "<|im_start|>", END_TURN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tk.train_from_iterator(texts, trainer)
    bos = tk.token_to_id(BOS)
    tk.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos)]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token=BOS,
        eos_token=EOS,
        additional_special_tokens=["<|im_start|>", END_TURN],
    )
    tok.chat_template = CHATML
    return tok


def build_checkpoint(path: Path, texts: list[str], seed: int = 0) -> Path:
    """Write the checkpoint (bfloat16 weights, as pretrained models ship) to ``path``."""
    tok = bpe_tokenizer(texts)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id,
        eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids(END_TURN)],
    )
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def task_texts(task, n: int = 200, seed: int = 0) -> list[str]:
    """Gold trajectories of a task: the corpus the BPE tokenizer is trained on."""
    from tripost.trajectory import render_prompt

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p = task.generate(rng, "seen")
        gold = task.solve(p)
        if gold is not None:
            out.append(render_prompt(p.question, task.instruction) + gold.render())
    return out
