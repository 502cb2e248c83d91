import random
from collections import Counter

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from torch.optim.optimizer import register_optimizer_step_post_hook
from transformers import PreTrainedTokenizerFast

from tripost.policy.model import TinyModelConfig, build_char_tokenizer, build_tiny_policy
from tripost.training import (
    Sample,
    TrainConfig,
    batch_order,
    chunked_weighted_sft_loss,
    collate,
    encode_sample,
    lr_at,
    train_policy,
    weighted_sft_loss,
)


def test_weighted_loss_matches_hand_computation():
    logits = torch.tensor([[[2.0, 0.0], [0.0, 1.0]]])  # (B=1, T=2, V=2)
    labels = torch.tensor([[0, 0]])
    weights = torch.tensor([[1.0, 1.5]])
    ce0 = -torch.log_softmax(logits[0, 0], -1)[0]
    ce1 = -torch.log_softmax(logits[0, 1], -1)[0]
    want = (ce0 + 1.5 * ce1) / 2
    assert torch.allclose(weighted_sft_loss(logits, labels, weights, 2), want)


def test_zero_weight_positions_do_not_contribute():
    logits = torch.randn(2, 5, 7)
    labels = torch.randint(0, 7, (2, 5))
    weights = torch.ones(2, 5)
    weights[:, 3:] = 0
    changed = logits.clone()
    changed[:, 3:] += 100 * torch.randn(2, 2, 7)
    assert torch.allclose(
        weighted_sft_loss(logits, labels, weights, 6),
        weighted_sft_loss(changed, labels, weights, 6),
    )


def test_micro_batches_give_the_same_gradient_as_one_batch():
    torch.manual_seed(0)
    lin = torch.nn.Linear(4, 6)
    x = torch.randn(4, 3, 4)
    labels = torch.randint(0, 6, (4, 3))
    weights = torch.tensor([[1, 1, 0], [1.5, 1.5, 1.5], [1, 0, 0], [1, 1.5, 0]])
    n = int((weights > 0).sum())
    weighted_sft_loss(lin(x), labels, weights, n).backward()
    full = lin.weight.grad.clone()
    lin.weight.grad = None
    for sl in (slice(0, 1), slice(1, 4)):  # uneven micro-batches
        weighted_sft_loss(lin(x[sl]), labels[sl], weights[sl], n).backward()
    assert torch.allclose(lin.weight.grad, full, atol=1e-6)


def test_encode_sample_weights_segments_and_appends_eos():
    tok = build_char_tokenizer()
    ids, w = encode_sample(Sample((("Q:", 0.0), ("ab", 1.0), ("\nF", 1.5))), tok, 100)
    assert ids[-1] == tok.eos_token_id and len(ids) == 7
    assert w == [0, 0, 1, 1, 1.5, 1.5, 1.5]
    ids2, _ = encode_sample(Sample((("Q:", 0.0), ("ab", 1.0)), eos=False), tok, 100)
    assert tok.eos_token_id not in ids2


def test_encode_sample_tokenizes_the_whole_text_as_generation_does():
    # ".\n" is one token; the answer's segment ends at "." and the feedback's begins with "\n"
    tok = build_char_tokenizer(pieces=[".\n"])
    s = Sample((("Q:", 0.0), ("a.", 1.0), ("\nF", 1.5)), eos=False)
    ids, w = encode_sample(s, tok, 100)
    assert ids == tok.encode("Q:a.\nF", add_special_tokens=False)  # as a prompt is encoded
    assert tok.convert_ids_to_tokens(ids) == ["Q", ":", "a", ".\n", "F"]
    assert w == [0, 0, 1, 1.5, 1.5]  # a token across segments takes the higher weight
    # segment by segment (drills whose segments are one token each): the pair is split
    ids2, w2 = encode_sample(Sample(s.segments, eos=False, whole=False), tok, 100)
    assert tok.convert_ids_to_tokens(ids2) == ["Q", ":", "a", ".", "\n", "F"]
    assert w2 == [0, 0, 1, 1, 1.5, 1.5]


def test_a_sentencepiece_style_tokenizer_puts_no_word_start_inside_a_sample():
    # Llama-2/Mistral style: a word-start mark goes before the first word of each text encoded,
    # so a segment encoded on its own began with a space that the whole text does not have
    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split("\n", "isolated"),
            pre_tokenizers.Metaspace(prepend_scheme="first", split=False),
        ]
    )
    tk.decoder = decoders.Metaspace(prepend_scheme="first", split=False)
    s = Sample((("Q: 1 + 2 =\n", 0.0), ("(1) 1 + 2 = 3.", 1.0), ("\nFeedback: correct.", 1.5)))
    tk.train_from_iterator([s.text] * 4, trainers.BpeTrainer(special_tokens=["<unk>", "</s>"]))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="</s>", unk_token="<unk>")
    ids, w = encode_sample(s, tok, 100)
    assert ids[:-1] == tok.encode(s.text, add_special_tokens=False)
    assert tok.convert_ids_to_tokens(ids).count("\u2581") == 0
    assert w == [0, 0, 1, 1.5, 1.5, 1.5]  # "Q: 1 + 2 =", "\n", "(1) ... 3.", "\n", ...
    by_segment = encode_sample(Sample(s.segments, whole=False), tok, 100)[0]
    assert tok.convert_ids_to_tokens(by_segment).count("\u2581") == 2  # " (1)", " \nFeedback"


def test_collate_shifts_labels_and_masks_padding():
    inputs, attn, labels, weights = collate([([5, 6, 7], [0, 1, 1]), ([5, 6], [0, 2])], pad_id=0)
    assert inputs.tolist() == [[5, 6], [5, 0]]
    assert labels.tolist() == [[6, 7], [6, 0]]
    assert weights.tolist() == [[1, 1], [2, 0]]
    assert attn.tolist() == [[1, 1], [1, 0]]


def test_lr_schedule_warms_up_then_decays():
    cfg = TrainConfig(lr=1.0, warmup=0.1, min_lr_ratio=0.1)
    lrs = [lr_at(s, 100, cfg) for s in range(100)]
    assert lrs[0] < lrs[9] == 1.0
    assert abs(lrs[-1] - 0.1) < 0.02 and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))


def test_training_lowers_the_loss_on_a_fixed_sample(caplog):
    policy = build_tiny_policy(
        TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64)
    )
    sample = Sample((("Q: 1+1\n", 0.0), ("(Final response) So the answer is 2.", 1.0)))
    cfg = TrainConfig(steps=60, batch_size=4, micro_batch_size=2, lr=1e-2, bf16=False, log_every=30)
    with caplog.at_level("INFO", logger="tripost.training"):
        stats = train_policy(policy, [sample] * 4, cfg)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert [line.split(" loss")[0] for line in lines] == ["step 30/60", "step 60/60"]
    assert " left)" in lines[0] and "tokens/s, " in lines[0]
    assert lines[1].endswith(", 0 s left)")
    first = TrainConfig(steps=1, batch_size=4, micro_batch_size=4, lr=0.0, bf16=False, log_every=0)
    after = train_policy(policy, [sample] * 4, first)
    assert stats["steps"] == 60 and after["final_loss"] < 0.5


def test_chunked_loss_of_a_micro_batch_without_supervised_tokens_is_zero_with_gradients():
    """Truncation can leave a micro-batch with no supervised token: its loss is 0 and still
    reaches every parameter (backward needs a graph; DDP waits for each parameter's gradient)."""
    torch.manual_seed(0)
    hidden = torch.randn(2, 5, 8, requires_grad=True)
    head = torch.nn.Linear(8, 11, bias=False)
    labels = torch.randint(0, 11, (2, 5))
    loss = chunked_weighted_sft_loss(hidden, head, labels, torch.zeros(2, 5), 7.0, chunk=4)
    g_hidden, g_head = torch.autograd.grad(loss, [hidden, head.weight])
    assert loss.item() == 0.0
    assert not g_hidden.any() and not g_head.any()


def test_length_groups_keep_every_sample_once_per_epoch_and_cut_the_padding():
    rng = random.Random(0)
    lengths = [rng.randint(50, 400) for _ in range(1001)]  # not a multiple of the batch

    def epochs(cfg, n=3):
        """n epochs taken batch by batch as train_policy takes them (leftover carried)."""
        order, taken, r = [], [], random.Random(1)
        while len(taken) < n * 1001 // 8 - 1:
            if len(order) < 8:
                order = batch_order(r, lengths, cfg, order)
            taken.append(order[:8])
            del order[:8]
        return taken

    def padded(batches):
        return sum(8 * max(lengths[i] for i in b) for b in batches) / len(batches)

    plain = epochs(TrainConfig(batch_size=8, length_groups=0))
    grouped = epochs(TrainConfig(batch_size=8, length_groups=16))
    flat = [i for b in grouped for i in b]
    assert len(set(flat[:1000])) == 1000  # no sample twice in an epoch's full batches
    assert set(Counter(flat).values()) <= {2, 3}  # each sample once per epoch (3 epochs - 8)
    # the padding is cut in every epoch, not only the first (the leftover is regrouped)
    for e in range(3):
        part = slice(e * 125, (e + 1) * 125)
        assert padded(grouped[part]) < 0.8 * padded(plain[part])
    # the batches of a run come in random order, not from shortest to longest
    longest = [max(lengths[i] for i in b) for b in grouped[:16]]
    assert longest != sorted(longest)
    # 0 and 1 are the plain shuffle
    one = epochs(TrainConfig(batch_size=8, length_groups=1))
    assert one == plain


SUM_SAMPLE = Sample((("Q: 1+1\n", 0.0), ("(Final response) So the answer is 2.", 1.0)))


def seeded_policy(num_layers: int = 1):
    """A tiny policy whose weights are the same at every call."""
    torch.manual_seed(0)
    tiny = TinyModelConfig(hidden_size=16, num_layers=num_layers, num_heads=2, intermediate_size=32)
    return build_tiny_policy(tiny)


def test_ema_replaces_the_weights_by_their_moving_average():
    """The weights after training with ``ema`` are the average, by the ramped decay, of the
    weights after each step of the same training without it (snapshotted by a step hook)."""
    cfg = TrainConfig(steps=4, batch_size=2, micro_batch_size=2, lr=1e-2, bf16=False, log_every=0)
    plain = seeded_policy()
    snapshots = [[p.detach().clone() for p in plain.model.parameters()]]
    hook = register_optimizer_step_post_hook(
        lambda *_: snapshots.append([p.detach().clone() for p in plain.model.parameters()])
    )
    try:
        train_policy(plain, [SUM_SAMPLE] * 2, cfg)
    finally:
        hook.remove()
    assert len(snapshots) == 5
    expected = snapshots[0]
    for step, weights in enumerate(snapshots[1:]):
        keep = min(0.5, (1 + step) / (10 + step))
        expected = [keep * e + (1 - keep) * w for e, w in zip(expected, weights)]
    averaged = seeded_policy()
    train_policy(averaged, [SUM_SAMPLE] * 2, cfg.model_copy(update={"ema": 0.5}))
    for got, want in zip(averaged.model.parameters(), expected):
        torch.testing.assert_close(got, want)
    assert any(not torch.allclose(e, w) for e, w in zip(expected, snapshots[-1]))


def test_compile_trains_the_same_weights_through_compiled_layers_and_puts_them_back():
    """``compile`` runs the steps through torch.compile'd decoder layers (seen from a step
    hook), reaches the eager run's weights, and leaves the model's own layers in place."""
    cfg = TrainConfig(steps=3, batch_size=2, micro_batch_size=2, lr=1e-2, bf16=False, log_every=0)
    eager, compiled = seeded_policy(num_layers=2), seeded_policy(num_layers=2)
    train_policy(eager, [SUM_SAMPLE] * 2, cfg)
    layers = compiled.model.get_decoder().layers
    originals = list(layers)
    seen: list[str] = []
    hook = register_optimizer_step_post_hook(
        lambda *_: seen.append(type(compiled.model.get_decoder().layers[0]).__name__)
    )
    try:
        train_policy(compiled, [SUM_SAMPLE] * 2, cfg.model_copy(update={"compile": True}))
    finally:
        hook.remove()
    assert seen == ["OptimizedModule"] * 3
    assert list(compiled.model.get_decoder().layers) == originals
    assert list(compiled.model.state_dict()) == list(eager.model.state_dict())
    for got, want in zip(compiled.model.parameters(), eager.model.parameters()):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


def test_compile_trains_eagerly_with_a_warning_where_torch_compile_cannot_run(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", broken)
    cfg = TrainConfig(
        steps=2, batch_size=2, micro_batch_size=2, bf16=False, log_every=0, compile=True
    )
    policy = seeded_policy()
    with caplog.at_level("WARNING", logger="tripost.training"):
        stats = train_policy(policy, [SUM_SAMPLE] * 2, cfg)
    assert stats["steps"] == 2
    assert any("no C++ compiler" in r.getMessage() for r in caplog.records)
