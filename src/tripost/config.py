"""Run configuration: plain values validated by pydantic, loaded from YAML.

Every field has a default and a description. A bad config gives one line naming the file, the
line and the field, e.g. ``configs/x.yaml:12: sft.lr: Input should be a valid number``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tripost.evaluation import EvalConfig
from tripost.policy.generation import Sampling
from tripost.policy.model import TinyModelConfig
from tripost.postprocess import LossWeights
from tripost.training import TrainConfig


class ConfigError(ValueError):
    """A config that cannot be used; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelConfig(_Strict):
    path: str | None = Field(
        None, description="HF checkpoint dir or hub id of the small model; None = tiny from scratch"
    )
    tiny: TinyModelConfig = Field(default_factory=TinyModelConfig)
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto",
        description="weights dtype for decoding and for frozen weights; auto = the checkpoint's "
        "own (float32 for the tiny model)",
    )
    train_dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "float32",
        description="dtype of the weights being trained in a full fine-tune (float32 master "
        "weights, computed in bf16 when train.bf16); auto = model.dtype. LoRA adapters are "
        "float32 over a base in model.dtype",
    )
    device: str = Field("auto", description="auto (the GPU when there is one), cpu, cuda or cuda:N")
    lora: dict[str, Any] | None = Field(
        None,
        description="peft LoraConfig kwargs, e.g. {r: 16, lora_alpha: 32, target_modules: "
        "all-linear} (None = full fine-tuning); the adapter keeps training across iterations",
    )
    trust_remote_code: bool = Field(False, description="allow custom model code from the hub")
    threads: int | None = Field(None, description="torch CPU threads (None = torch default)")


class PromptConfig(_Strict):
    format: Literal["plain", "chat"] = Field(
        "plain",
        description="plain: 'Q: ... / Answer: ...' text (the paper's); chat: the model's chat "
        "template, question as the user turn, trajectory as the assistant turn",
    )
    system: str | None = Field(None, description="system message of the chat format")


class DataConfig(_Strict):
    train_problems: int = Field(20000, description="generated training problems (seen buckets)")
    eval_seen: int = Field(200, description="held-out seen problems for evaluation")
    eval_unseen: int = Field(100, description="held-out unseen problems for evaluation")
    eval_file: str | None = Field(
        None, description="evaluate on this JSONL / BBH JSON file instead of generated problems"
    )


class RolloutConfig(_Strict):
    problems: int = Field(1000, description="training problems attempted per iteration")
    temperature: float = Field(1.0, description="sampling temperature (0 = greedy, as evaluation)")
    max_new_tokens: int = Field(
        1024, description="token budget of one rollout, in the model's tokens"
    )
    batch_size: int = Field(64, description="generation batch size")
    bf16: bool = Field(False, description="bf16 autocast while sampling (fp32 weights only)")
    engine: Literal["auto", "loop", "hf"] = Field(
        "auto", description="decoding engine: loop (ours), hf (transformers generate), auto"
    )
    backend: Literal["hf", "server"] = Field(
        "hf",
        description="hf: decode in-process; server: through an inference server started on "
        "the checkpoint (the server section; docs/scaling.md)",
    )

    def sampling(self) -> Sampling:
        return Sampling(
            self.max_new_tokens, self.temperature, self.batch_size, self.bf16, self.engine
        )


class ExpertConfig(_Strict):
    feedback: str = Field("scripted", description="feedback module: scripted | llm")
    improvement: str = Field("scripted", description="improvement module: scripted | llm")
    max_rounds: int = Field(5, description="IMP -> FBK rounds before a rollout is dropped")
    llm: dict[str, Any] = Field(
        default_factory=dict, description="LLM expert settings (see docs/llm_expert.md)"
    )


class PostprocessConfig(_Strict):
    ratio: float | None = Field(
        1.5, description="improvement : non-improvement : gold = r : 1 : 1; null = keep all"
    )
    gold: bool = Field(True, description="add gold rationale samples")


DEFAULT_SERVER_COMMAND = (
    "transformers serve {model} --host {host} --port {port} --dtype {dtype} --continuous-batching"
)


class ServerConfig(_Strict):
    """The ``server`` section: how the ``server`` backend starts and talks to its server."""

    command: str = Field(
        DEFAULT_SERVER_COMMAND,
        description="command template of an OpenAI-compatible server; {model} = the checkpoint "
        "directory, {port} = a free loopback port, {host} = 127.0.0.1, {dtype} = the decoding "
        "dtype (bfloat16, float16, float32: model.dtype, auto = the base checkpoint's)",
    )
    dialect: Literal["auto", "transformers", "vllm", "openai"] = Field(
        "auto",
        description="request extras: transformers | vllm (also SGLang) | openai (standard "
        "fields only); auto = from the command",
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict, description="more request fields, sent with every request"
    )
    concurrency: int | None = Field(
        None, gt=0, description="requests in flight (None = the stage's batch_size)"
    )
    startup_timeout_s: float = Field(
        900.0, gt=0, description="how long the server may take to answer"
    )
    request_timeout_s: float = Field(3600.0, gt=0, description="timeout of one request, seconds")
    max_restarts: int = Field(2, ge=0, description="restarts of a server that dies mid-stage")
    stop_timeout_s: float = Field(
        30.0, gt=0, description="SIGTERM to SIGKILL grace period when stopping the server"
    )


class RunConfig(_Strict):
    task: str = Field("multistep_arithmetic", description="task name (see `tripost tasks`)")
    task_options: dict[str, Any] = Field(default_factory=dict, description="task constructor args")
    seed: int = Field(0, description="seed of data generation, init and sampling")
    model: ModelConfig = Field(default_factory=ModelConfig)
    prompt: PromptConfig = Field(default_factory=PromptConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    sft: TrainConfig = Field(
        default_factory=lambda: TrainConfig(epochs=1.0, lr=1e-5),
        description="SFT of the starting model on gold rationales (steps=0 skips it)",
    )
    iterations: int = Field(3, description="TriPosT iterations")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    expert: ExpertConfig = Field(default_factory=ExpertConfig)
    postprocess: PostprocessConfig = Field(default_factory=PostprocessConfig)
    loss: LossWeights = Field(default_factory=LossWeights)
    train: TrainConfig = Field(
        default_factory=lambda: TrainConfig(epochs=2, lr=1e-5),
        description="training of each TriPosT iteration (continues from the last checkpoint)",
    )
    sft_more: bool = Field(True, description="train the compute-matched SFT control")
    eval: EvalConfig = Field(default_factory=EvalConfig)
    server: ServerConfig = Field(
        default_factory=ServerConfig,
        description="the inference server of rollout.backend / eval.backend: server",
    )


def load_config(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> RunConfig:
    """Load a YAML config (or the defaults) and apply dotted-key overrides."""
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
            data = yaml.safe_load(text) or {}
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{line}: invalid YAML ({getattr(e, 'problem', e)})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config must be a mapping of fields")
    # deep copies: an override must never write into the caller's nested dicts
    for key, value in copy.deepcopy(overrides or {}).items():
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = [str(x) for x in err["loc"]]
        line = _yaml_line(text, loc) if text else None
        where = f"{path}:{line}" if line else str(path or "config")
        raise ConfigError(f"{where}: {'.'.join(loc)}: {err['msg']}") from None


def _yaml_line(text: str, loc: list[str]) -> int | None:
    """1-based line of the deepest key of ``loc`` that exists in the YAML text."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for k, v in node.value:
            if k.value == key:
                line, node = k.start_mark.line + 1, v
                break
        else:
            break
    return line


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
