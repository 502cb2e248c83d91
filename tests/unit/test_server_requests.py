"""What the ``server`` backend asks a server (no server here): per dialect, the same decoding as
in-process — the prompt read as the same tokens, every stop id, pure temperature sampling, the
token budget — and which dialect a command is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import GenerationConfig

from tests.real_model import END_TURN, bpe_tokenizer, task_texts
from tripost.policy.generation import Sampling
from tripost.policy.model import bos_prefix
from tripost.policy.prompting import PromptFormat
from tripost.policy.server import (
    DEFAULT_COMMAND,
    InferenceServer,
    ServedCheckpoint,
    ServerConfig,
    ServerError,
    dialect_of,
)
from tripost.tasks import get_task

TASK = get_task("multistep_arithmetic")


@pytest.fixture(scope="module")
def tok():
    t = bpe_tokenizer(task_texts(TASK, 60))
    t.chat_template = "{{ bos_token }}" + t.chat_template  # Llama-3 style: the template writes BOS
    return t


def served(tok, fmt: str, dialect: str, **cfg) -> ServedCheckpoint:
    pf = PromptFormat(tok, fmt)
    stops = sorted({tok.eos_token_id, *pf.stop_ids()})
    server = InferenceServer(DEFAULT_COMMAND, "/ckpt", "/dev/null")
    return ServedCheckpoint(server, ServerConfig(dialect=dialect, **cfg), tok, pf, stops, None)


def in_process_ids(s: ServedCheckpoint, prompt: str) -> list[int]:
    bos = bos_prefix(s.tokenizer) if s.fmt.add_bos else []
    return bos + s.tokenizer.encode(prompt, add_special_tokens=False)


@pytest.mark.parametrize("fmt", ["plain", "chat"])
def test_transformers_requests_carry_our_generation_config_and_the_same_prompt_tokens(tok, fmt):
    s = served(tok, fmt, "transformers")
    prompt = s.fmt.prompt("Add 1, 2 and 3.")
    body = s._request(prompt, 77, Sampling(100, 0.7), seed=5, i=3)
    # the server tokenizes the text with the tokenizer's special tokens: BOS exactly once
    assert tok(body["prompt"]).input_ids == in_process_ids(s, prompt)
    assert in_process_ids(s, prompt).count(tok.bos_token_id) == 1
    gc = GenerationConfig(**json.loads(body["extra_body"]["generation_config"]))
    assert gc.do_sample and gc.temperature == 0.7 and gc.top_k == 0 and gc.top_p == 1.0
    assert gc.max_new_tokens == 77 == body["max_tokens"]
    assert sorted(gc.eos_token_id) == s.stops
    if fmt == "chat":
        assert tok.convert_tokens_to_ids(END_TURN) in gc.eos_token_id
    assert body["seed"] != s._request(prompt, 77, Sampling(100, 0.7), seed=5, i=4)["seed"]
    greedy = s._request(prompt, 77, Sampling(100, 0.0), seed=5, i=3)
    assert "seed" not in greedy
    assert not json.loads(greedy["extra_body"]["generation_config"]).get("do_sample", False)


def test_vllm_requests_name_stop_ids_and_turn_off_the_models_sampling_defaults(tok):
    s = served(tok, "chat", "vllm", extra_body={"priority": 1})
    prompt = s.fmt.prompt("Add 1, 2 and 3.")
    body = s._request(prompt, 50, Sampling(64, 1.0), seed=0, i=0)
    extra = body["extra_body"]
    assert body["prompt"] == prompt and body["top_p"] == 1.0
    assert extra["stop_token_ids"] == s.stops and extra["add_special_tokens"] is False
    assert extra["top_k"] == -1 and extra["repetition_penalty"] == 1.0 and extra["min_p"] == 0.0
    assert extra["priority"] == 1  # server.extra_body goes with every request


def test_plain_openai_requests_stop_on_the_stop_tokens_text(tok):
    s = served(tok, "chat", "openai")
    body = s._request(s.fmt.prompt("Add 1, 2 and 3."), 50, Sampling(64, 0.0), seed=None, i=0)
    assert set(body["stop"]) == {tok.eos_token, END_TURN} and "extra_body" not in body
    # an engine that returns a non-special stop token at the end: cut, as in-process
    assert s._clean("So the answer is 6." + END_TURN) == "So the answer is 6."
    assert s._clean("So the answer is 6.") == "So the answer is 6."


def test_dialect_from_the_command():
    assert dialect_of(DEFAULT_COMMAND) == "transformers"
    assert dialect_of("vllm serve {model} --port {port} --gpu-memory-utilization 0.3") == "vllm"
    assert dialect_of("python -m sglang.launch_server --model-path {model} --port {port}") == "vllm"
    assert dialect_of("llama-server -m {model} --port {port}") == "openai"


def test_the_default_command_serves_on_loopback_in_the_decoding_dtype(tmp_path):
    argv = InferenceServer(DEFAULT_COMMAND, "/m", tmp_path / "log", dtype="bfloat16").argv(8000)
    assert Path(argv[0]).name == "transformers"
    assert argv[1:] == [
        "serve",
        "/m",
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        "--dtype",
        "bfloat16",
        "--continuous-batching",
    ]


def test_bad_command_templates_are_one_line(tmp_path):
    for command, message in [
        ("", "server.command: empty"),
        ("serve {model} --port {prt}", "server.command: 'serve {model} --port {prt}': 'prt'"),
        ("no-such-engine {model}", "server.command: 'no-such-engine' not found"),
    ]:
        with pytest.raises(ServerError) as e:
            InferenceServer(command, "/m", tmp_path / "log").argv(8000)
        assert str(e.value).startswith(message) and "\n" not in str(e.value)


def test_the_last_log_lines_show_the_error_above_a_usage_text(tmp_path):
    log = tmp_path / "s.log"
    usage = [f"  --option-{k} INTEGER   what it does" for k in range(20)]
    log.write_text("\n".join(["--- start 1: serve", "Error: No such option '--bogus'.", *usage]))
    line = InferenceServer("serve", "/m", log).last_lines()
    assert line.startswith("its last log lines: Error: No such option '--bogus'. | ... | ")
    assert line.endswith(f"--option-19 INTEGER   what it does (log: {log})") and "\n" not in line
    log.write_text("")
    assert (
        InferenceServer("serve", "/m", log).last_lines().startswith("its last log lines: (nothing)")
    )
