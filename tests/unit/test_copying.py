import random

from tripost.copying import copy_samples, copy_units, mixed_copy_samples, unit_pool
from tripost.policy.model import TinyModelConfig, build_tiny_policy
from tripost.training import encode_sample

TEXTS = ["The blue jay is to the left of the crow.", "(1) 12 + -7 = 5."]


def test_every_unit_is_one_ordinary_token():
    tok = build_tiny_policy(TinyModelConfig(tokenizer="number"), texts=TEXTS).tokenizer
    units = copy_units(tok)
    assert {"blue", "jay", "crow", "-7", "999", " + ", "a", " "} <= set(units)
    assert not {"\n", tok.eos_token, tok.pad_token, tok.bos_token, tok.unk_token} & set(units)
    for u in units:
        assert len(tok.encode(u, add_special_tokens=False)) == 1, u


def test_the_loss_is_on_the_copies_and_each_copy_repeats_its_string():
    tok = build_tiny_policy(TinyModelConfig(tokenizer="word"), texts=TEXTS).tokenizer
    (sample,) = copy_samples(copy_units(tok), 1, random.Random(0))
    ids, weights = encode_sample(sample, tok, 4096)
    assert not sample.eos and len(ids) >= 200
    newline = tok.encode("\n", add_special_tokens=False)[0]
    lines, start = [], 0
    for i, t in enumerate(ids):
        if t == newline:
            lines.append((ids[start:i], set(weights[start : i + 1])))
            start = i + 1
    assert start == len(ids) and len(lines) % 2 == 0
    for (string, w0), (copy, w1) in zip(lines[::2], lines[1::2]):
        assert copy == string and 4 <= len(string) <= 16
        assert w0 == {0.0} and w1 == {1.0}
    # the strings are draws from the whole vocabulary, whole words among them
    many = copy_samples(copy_units(tok), 20, random.Random(1))
    drawn = {t for s in many for t in encode_sample(s, tok, 4096)[0]}
    assert len(drawn) > 90 and tok.convert_tokens_to_ids("blue") in drawn


def test_the_mixed_copy_samples_are_their_share_of_the_sft_mix():
    policy = build_tiny_policy(TinyModelConfig(tokenizer="word"), texts=TEXTS)
    extra = mixed_copy_samples(policy, 300, 0.25, seed=0)
    assert len(extra) == 100  # 100 of 400 samples
    assert mixed_copy_samples(policy, 300, 0.25, seed=0) == extra  # the run's seed fixes them
    assert mixed_copy_samples(policy, 300, 0.25, seed=1) != extra


def test_a_unit_pool_is_a_random_subset_of_the_units_or_all_of_them():
    tok = build_tiny_policy(TinyModelConfig(tokenizer="number"), texts=TEXTS).tokenizer
    units = copy_units(tok)
    pool = unit_pool(tok, 50, random.Random(0))
    assert len(pool) == len(set(pool)) == 50 and set(pool) < set(units)
    assert pool != unit_pool(tok, 50, random.Random(1))
    assert unit_pool(tok, 0, random.Random(0)) == units
    assert unit_pool(tok, len(units) + 1, random.Random(0)) == units
