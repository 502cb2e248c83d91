"""The tiny model's tokenizers: characters, optionally plus whole lowercase words."""

from transformers import AutoModelForCausalLM, AutoTokenizer

from tripost.policy.model import TinyModelConfig, build_char_tokenizer, build_tiny_policy

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
