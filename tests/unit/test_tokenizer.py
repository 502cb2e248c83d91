"""The tiny model's tokenizers: characters, optionally plus whole lowercase words."""

import random

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tripost.policy.model import (
    FORMAT_PIECES,
    TinyModelConfig,
    build_char_tokenizer,
    build_tiny_policy,
)

TEXT = '(1) The first letter: "pardon"="p" (16), "sack"="s" (19).'


def test_char_tokenizer_gives_one_token_per_character():
    tok = build_char_tokenizer()
    ids = tok.encode(TEXT, add_special_tokens=False)
    assert len(ids) == len(TEXT) and tok.decode(ids) == TEXT


def test_word_tokenizer_keeps_known_words_whole_and_splits_the_rest():
    tok = build_char_tokenizer(["pardon", "first", "letter"])
    text = TEXT + " pardons"
    pieces = tok.convert_ids_to_tokens(tok.encode(text, add_special_tokens=False))
    assert "pardon" in pieces and "first" in pieces and "letter" in pieces
    assert "sack" not in pieces and pieces[-7:] == list("pardons")  # no partial-word match
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_word_level_tiny_model_is_a_normal_checkpoint(tmp_path):
    cfg = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, tokenizer="word")
    policy = build_tiny_policy(cfg, texts=[TEXT])
    policy.save(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = tok.encode(TEXT, add_special_tokens=False)
    assert tok.decode(ids) == TEXT and "pardon" in tok.convert_ids_to_tokens(ids)
    assert model.config.vocab_size == len(tok) == len(policy.tokenizer)


def test_number_tokenizer_keeps_short_integers_and_spaced_operators_whole():
    tok = build_char_tokenizer(["answer"], numbers=True)
    text = "(2) A = (-9 - 8 * -9) = -9 - -72 = 63, 1393 -0 x-5 a1 007; the answer is -189."
    ids = tok.encode(text, add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(ids)
    assert tok.decode(ids) == text  # nothing lost, whatever the split
    assert {"-9", " - ", " * ", " = ", "-72", "63", "-189", "answer"} <= set(pieces)
    assert pieces[pieces.index("63") + 3 : pieces.index("63") + 7] == ["1", "3", "9", "3"]
    assert "-0" not in pieces and "007" not in pieces and "<unk>" not in pieces
    assert len(tok) == len(build_char_tokenizer(["answer"])) + 4 + 1999 - 10  # 0-9 are chars


def test_number_tokenizer_tiny_model_is_a_normal_checkpoint(tmp_path):
    cfg = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, tokenizer="number")
    build_tiny_policy(cfg, texts=["A = 7 * -3 = -21."]).save(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    assert tok.convert_ids_to_tokens(tok.encode("7 * -3", add_special_tokens=False)) == [
        "7",
        " * ",
        "-3",
    ]


ANSWER = (
    "Q: (3 * -4) =\nAnswer: Let's think step by step.\n(1) A = (3 * -4): 3 * -4 = -12, "
    "-12 = -12.\n(12) x.\n(Final response) So the answer is -12.\n"
    "Feedback: Step (1) to step (12) are correct."
)


def test_format_pieces_are_one_token_each_and_lose_nothing():
    tok = build_char_tokenizer(["Feedback"], numbers=True, pieces=FORMAT_PIECES)
    ids = tok.encode(ANSWER, add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(ids)
    assert tok.decode(ids) == ANSWER
    assert pieces[10] == "Answer: Let's think step by step.\n" and pieces[11] == "(1) "
    assert "(12) " in pieces and "(1" not in pieces  # the longer label, not a prefix of it
    assert {"(Final response) So the answer is ", ", ", ": ", ".\n", "-12"} <= set(pieces)
    assert pieces.count("(1) ") == 2 and pieces.count(": ") == 3  # the feedback's too
    plain = build_char_tokenizer(["Feedback"], numbers=True)
    assert len(tok) == len(plain) + len(FORMAT_PIECES)
    assert len(ids) < len(plain.encode(ANSWER, add_special_tokens=False)) - 35


def test_tiny_model_takes_format_pieces_only_when_asked(tmp_path):
    shape = {"hidden_size": 32, "num_layers": 1, "num_heads": 2, "tokenizer": "number"}
    plain = build_tiny_policy(TinyModelConfig(**shape), texts=[ANSWER])
    build_tiny_policy(TinyModelConfig(**shape, format_pieces=True), texts=[ANSWER]).save(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)  # a normal checkpoint keeps them
    assert "(1) " in tok.convert_ids_to_tokens(tok.encode(ANSWER, add_special_tokens=False))
    assert "(1) " not in plain.tokenizer.get_vocab()


def test_number_embeddings_start_from_their_digits():
    """``number_init: digits``: integers that differ in one digit start out closer than
    integers that share no part (sign, hundreds, tens, units), and each keeps its own
    embedding (``-42`` is not ``42``); ``random`` gives no such structure."""
    rng = random.Random(0)
    alike, apart = [], []
    for _ in range(200):
        n = rng.randint(0, 998)
        if n % 10 != 9:
            alike.append((str(n), str(n + 1)))  # same sign, hundreds and tens
        m = rng.randint(-999, -1)
        if all(a != b for a, b in zip(f"{n:03d}", f"{-m:03d}", strict=True)):
            apart.append((str(n), str(m)))
    for init in ("digits", "random"):
        cfg = TinyModelConfig(
            hidden_size=128, num_layers=1, num_heads=2, tokenizer="number", number_init=init
        )
        policy = build_tiny_policy(cfg, texts=["A = 7 * -3 = -21."])
        emb, vocab = policy.model.get_input_embeddings().weight, policy.tokenizer.get_vocab()

        def sim(pairs, emb=emb, vocab=vocab):
            a = emb[[vocab[x] for x, _ in pairs]]
            b = emb[[vocab[y] for _, y in pairs]]
            return torch.cosine_similarity(a, b, dim=1).mean().item()

        if init == "digits":  # expected: 3/8 alike, 0 apart, 1/8 for 42 vs -42 (a part of 8)
            assert sim(alike) > 0.25 and abs(sim(apart)) < 0.1
            assert sim([("42", "-42"), ("7", "-7"), ("305", "-305")]) < 0.6
        else:
            assert abs(sim(alike)) < 0.1 and abs(sim(apart)) < 0.1
