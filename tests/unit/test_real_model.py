"""The real-model path on a small checkpoint of a real architecture with a real BPE tokenizer:
loading (dtype, device, LoRA adapters), BOS / EOS / pad, both decoding engines, the chat format,
the chunked loss, and one-line errors."""

from __future__ import annotations

import json
import random

import pytest
import torch

from tests.real_model import END_TURN, build_checkpoint, task_texts
from tests.toy import ToyTask
from tripost.policy.generation import Sampling, generate
from tripost.policy.model import ModelLoadError, load_policy, resolve_device
from tripost.policy.prompting import PromptFormat, PromptFormatError, parse_plain_prompt
from tripost.training import (
    Sample,
    TrainConfig,
    chunked_weighted_sft_loss,
    encode_sample,
    train_policy,
    weighted_sft_loss,
)
from tripost.trajectory import render_prompt

TASK = ToyTask()


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return build_checkpoint(tmp_path_factory.mktemp("llama") / "ckpt", task_texts(TASK))


def test_loads_in_its_own_dtype_with_bos_eos_and_pad(ckpt):
    policy = load_policy(ckpt)  # dtype auto: what the checkpoint was saved in
    assert policy.model.dtype == torch.bfloat16
    tok = policy.tokenizer
    assert policy.bos_ids() == [tok.bos_token_id]  # this tokenizer adds BOS to ordinary text
    assert tok.pad_token_id is not None  # none shipped; EOS stands in (always masked out)
    assert set(policy.stop_ids()) == {tok.eos_token_id, tok.convert_tokens_to_ids(END_TURN)}
    assert load_policy(ckpt, "float32").model.dtype == torch.float32


def test_bfloat16_weights_on_a_cpu_without_fast_bf16_are_warned_about(ckpt, monkeypatch, caplog):
    from tripost.policy import model as model_module

    for fast, warned in ((False, 1), (True, 0)):
        monkeypatch.setattr(model_module, "bf16_pays", lambda device_type, fast=fast: fast)
        caplog.clear()
        load_policy(ckpt)  # bfloat16, the checkpoint's own
        load_policy(ckpt, "float32")  # never warned about
        hits = [r for r in caplog.records if "model.dtype: float32 is much faster" in r.message]
        assert len(hits) == warned


def test_both_engines_decode_the_same_greedy_text_and_stop_on_any_stop_id(ckpt):
    policy = load_policy(ckpt, "float32", trainable=False)
    prompts = [render_prompt(TASK.generate(random.Random(i), "seen").question) for i in range(5)]
    greedy = {
        e: generate(policy, prompts, Sampling(12, 0.0, batch_size=3, engine=e))
        for e in ("loop", "hf")
    }
    assert greedy["loop"] == greedy["hf"]
    assert all(greedy["loop"])  # a random model writes something
    # the first token each prompt produces, declared a stop id: nothing is written
    first = [policy.tokenizer.encode(o, add_special_tokens=False)[0] for o in greedy["loop"]]
    for engine in ("loop", "hf"):
        out = generate(
            policy, prompts, Sampling(12, 0.0, engine=engine), extra_stop_ids=sorted(set(first))
        )
        assert out == [""] * len(prompts)


def test_bos_goes_in_front_of_plain_prompts_only_when_the_tokenizer_adds_it(ckpt):
    policy = load_policy(ckpt, "float32")
    tok = policy.tokenizer
    s = Sample((("Q: Add 1, 2 and 3.\nAnswer: x\n", 0.0), ("(1) y", 1.0)))
    ids, w = encode_sample(s, tok, 100, policy.bos_ids())
    assert ids[0] == tok.bos_token_id and w[0] == 0.0
    assert ids[-1] == tok.eos_token_id and w[-1] == 1.0
    assert ids.count(tok.bos_token_id) == 1


def test_a_trajectory_is_tokenized_as_its_whole_text(ckpt):
    tok = load_policy(ckpt, "float32").tokenizer
    s = Sample(
        (
            ("Q: Add 1, 2 and 3.\nAnswer: x\n", 0.0),
            ("(1) 1 + 2 + 3 = 6.", 1.0),
            ("\nFeedback: (1) is correct.", 1.5),
        ),
        eos=False,
    )
    ids, w = encode_sample(s, tok, 1000)
    assert ids == tok.encode(s.text, add_special_tokens=False)
    assert w[0] == 0.0 and w[-1] == 1.5 and sorted(w) == w


def test_chat_format_puts_the_question_in_a_user_turn_and_weights_the_assistant_only(ckpt):
    tok = load_policy(ckpt).tokenizer
    fmt = PromptFormat(tok, "chat", system="Be careful.")
    prompt = fmt.prompt("Add 1, 2 and 3.")
    assert prompt.startswith("<|im_start|>system\nBe careful.<|im_end|>\n<|im_start|>user\n")
    assert prompt.endswith("<|im_start|>assistant\nAnswer: Let's think step by step.\n")
    assert not fmt.add_bos and fmt.stop_ids() == [tok.convert_tokens_to_ids(END_TURN)]
    plain = Sample(
        ((render_prompt("Add 1, 2 and 3."), 0.3), ("(1) a", 1.0), ("\nFeedback: b", 1.5))
    )
    chat = fmt.sample(plain)
    assert chat.segments[0] == (prompt, 0.0)  # the user turn is never trained on
    assert chat.segments[1:3] == plain.segments[1:3]
    assert chat.segments[3] == ("<|im_end|>\n", 1.5) and not chat.eos
    ids, _ = encode_sample(chat, tok, 1000)
    assert ids.count(tok.convert_tokens_to_ids(END_TURN)) == 3  # system, user, assistant
    cont = Sample(plain.segments, eos=False)  # a trajectory that continues: no end of turn
    assert fmt.sample(cont).segments[-1] == ("\nFeedback: b", 1.5)
    assert parse_plain_prompt(render_prompt("a\nb", " (x)")) == ("a\nb", " (x)")


def test_chat_format_needs_a_chat_template(ckpt):
    tok = load_policy(ckpt).tokenizer
    tok.chat_template = None
    with pytest.raises(PromptFormatError, match="no chat template"):
        PromptFormat(tok, "chat")


def test_chunked_loss_equals_the_plain_loss_and_its_gradients():
    torch.manual_seed(0)
    B, T, d, V = 3, 7, 8, 11
    hidden = torch.randn(B, T, d, requires_grad=True)
    head = torch.nn.Linear(d, V, bias=False)
    labels = torch.randint(0, V, (B, T))
    weights = torch.tensor([[0, 0, 1, 1, 1.5, 1.5, 0]] * 2 + [[0, 1, 1, 1, 0, 0, 0]]).float()
    plain = weighted_sft_loss(head(hidden), labels, weights, 13.0)
    g_plain = torch.autograd.grad(plain, [hidden, head.weight])
    for chunk in (1, 4, 100):
        chunked = chunked_weighted_sft_loss(hidden, head, labels, weights, 13.0, chunk)
        g = torch.autograd.grad(chunked, [hidden, head.weight])
        torch.testing.assert_close(chunked, plain)
        for a, b in zip(g, g_plain):
            torch.testing.assert_close(a, b)


def test_chunked_and_plain_training_take_the_same_step(ckpt):
    samples = [Sample(((t[:20], 0.0), (t[20:], 1.0))) for t in task_texts(TASK, 8)]
    losses = []
    for chunk in (0, 16):
        policy = load_policy(ckpt, "float32")
        cfg = TrainConfig(
            steps=2,
            batch_size=4,
            micro_batch_size=2,
            lr=1e-3,
            bf16=False,
            loss_chunk=chunk,
            log_every=0,
        )
        stats = train_policy(policy, samples, cfg)
        losses.append(stats["final_loss"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_lora_adapter_records_its_base_reloads_trainable_and_keeps_training(ckpt, tmp_path):
    lora = {"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    policy = load_policy(ckpt, "float32", lora=lora)
    trainable = {n for n, p in policy.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    samples = [Sample(((t[:20], 0.0), (t[20:], 1.0))) for t in task_texts(TASK, 8)]
    cfg = TrainConfig(steps=2, batch_size=4, micro_batch_size=4, lr=1e-2, bf16=False, log_every=0)
    train_policy(policy, samples, cfg)
    policy.save(tmp_path / "iter1")
    adapter = json.loads((tmp_path / "iter1" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == str(ckpt.resolve())
    assert not (tmp_path / "iter1" / "model.safetensors").exists()  # the adapter only

    again = load_policy(tmp_path / "iter1", "float32")  # base + adapter, trainable
    before = {n: p.detach().clone() for n, p in again.model.named_parameters() if p.requires_grad}
    assert before.keys() == trainable
    train_policy(again, samples, cfg)  # would fail on an empty parameter list if frozen
    after = dict(again.model.named_parameters())
    assert any(not torch.equal(before[n], after[n]) for n in before)
    frozen = load_policy(tmp_path / "iter1", "float32", trainable=False)
    assert not any(p.requires_grad for p in frozen.model.parameters())


def test_bad_models_fail_with_one_line(ckpt, tmp_path):
    with pytest.raises(ModelLoadError, match="no such model directory"):
        load_policy(tmp_path / "missing")
    with pytest.raises(ModelLoadError, match="model.lora"):
        load_policy(ckpt, lora={"rank": 4})
    with pytest.raises(ModelLoadError, match="model.device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelLoadError, match="no CUDA GPU"):
            resolve_device("cuda")
    broken = tmp_path / "no_eos"
    policy = load_policy(ckpt)
    policy.tokenizer.eos_token = None
    policy.save(broken)
    with pytest.raises(ModelLoadError, match="no EOS token"):
        load_policy(broken)
