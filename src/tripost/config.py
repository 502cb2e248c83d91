"""Run configuration: plain values validated by pydantic, loaded from YAML.

Every field has a default and a description. A bad config gives one line naming the file, the
line and the field, e.g. ``configs/x.yaml:12: sft.lr: Input should be a valid number``.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tripost.methods import check_methods, default_methods, ordered
from tripost.settings import (
    EvalConfig,
    LLMConfig,
    LossWeights,
    Sampling,
    TinyModelConfig,
    TrainConfig,
)
from tripost.yamlio import ConfigError, load_yaml, read_config_text, yaml_line

__all__ = ["ConfigError", "RunConfig", "dump_config", "load_config", "load_yaml"]


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
    train_problems: int = Field(
        20000, ge=1, description="generated training problems (seen buckets)"
    )
    eval_seen: int = Field(200, ge=0, description="held-out seen problems for evaluation")
    eval_unseen: int = Field(100, ge=0, description="held-out unseen problems for evaluation")
    eval_file: str | None = Field(
        None, description="evaluate on this JSONL / BBH JSON file instead of generated problems"
    )
    sft_si_demos: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="fraction of the training problems that SFT also sees as self-improvement "
        "demonstrations of the scripted expert (an injected error, its feedback, the fix, and "
        "the gold answer judged correct), rebalanced like TriPosT's; 0: gold rationales only",
    )
    sft_feedback: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="fraction of the gold rationales of SFT (and sft_more) that end with the "
        "all-correct feedback, as the iterations' gold samples do: a model trained from scratch "
        "then knows the feedback format's words before the iterations; 0: the rationale alone "
        "(the paper's SFT)",
    )


class RolloutConfig(_Strict):
    problems: int = Field(1000, ge=1, description="training problems attempted per iteration")
    temperature: float = Field(
        1.0, ge=0, description="sampling temperature (0 = greedy, as evaluation)"
    )
    max_new_tokens: int = Field(
        1024, ge=1, description="token budget of one rollout, in the model's tokens"
    )
    batch_size: int = Field(64, ge=1, description="generation batch size")
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
    feedback: Literal["scripted", "llm"] = Field("scripted", description="feedback module")
    improvement: Literal["scripted", "llm"] = Field("scripted", description="improvement module")
    max_rounds: int = Field(5, ge=1, description="IMP -> FBK rounds before a rollout is dropped")
    accept_right_answers: bool = Field(
        False,
        description="an attempt whose final answer is right is correct without the expert's step "
        "check (the reference code's rule; default: the expert judges every step)",
    )
    llm: LLMConfig = Field(
        default_factory=LLMConfig,
        description="LLM expert settings (see docs/llm_expert.md); the run directory's llm_cache/ "
        "is the cache unless cache_dir is given",
    )


class PostprocessConfig(_Strict):
    ratio: float | None = Field(
        1.5, description="improvement : non-improvement : gold = r : 1 : 1; null = keep all"
    )
    gold: bool = Field(True, description="add gold rationale samples")


class LMSIConfig(_Strict):
    samples: int = Field(8, ge=1, description="rationales sampled per training question (k)")
    temperature: float = Field(0.7, gt=0, description="sampling temperature of the k rationales")


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
    iterations: int = Field(3, ge=0, description="TriPosT iterations")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    expert: ExpertConfig = Field(default_factory=ExpertConfig)
    postprocess: PostprocessConfig = Field(default_factory=PostprocessConfig)
    loss: LossWeights = Field(default_factory=LossWeights)
    train: TrainConfig = Field(
        default_factory=lambda: TrainConfig(epochs=2, lr=1e-5),
        description="training of each TriPosT iteration (continues from the last checkpoint)",
    )
    sft_more: bool = Field(True, description="train the compute-matched SFT control")
    methods: list[str] | None = Field(
        None,
        description="methods of the run (see docs/compare.md); null = sft, tripost and, if "
        "sft_more is true, sft_more",
    )
    lmsi: LMSIConfig = Field(default_factory=LMSIConfig, description="the lmsi baseline")
    eval: EvalConfig = Field(default_factory=EvalConfig)
    server: ServerConfig = Field(
        default_factory=ServerConfig,
        description="the inference server of rollout.backend / eval.backend: server",
    )

    @field_validator("task")
    @classmethod
    def _known_task(cls, name: str) -> str:
        from tripost.tasks import TASKS

        if name not in TASKS:
            raise ValueError(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}")
        return name

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            check_methods(v)
        return v

    def run_methods(self) -> list[str]:
        """The methods this run holds, in run order."""
        return ordered(self.methods if self.methods is not None else default_methods(self.sft_more))


SECRET_KEY = re.compile(
    r"^(.*[_\-.])?(api_?key|apikey|secret|secret_?key|client_?secret|password|passwd|"
    r"private_?key|credentials?|authorization|bearer)$"
    r"|^(token|auth|(access|auth|api|hf|bearer|github|gh|openai|refresh|session|secret|id)_?token)$",
    re.IGNORECASE,
)  # but not eos_token, pad_token_id, max_tokens, api_key_env...
SECRET_VALUE = re.compile(
    r"^(sk-[A-Za-z0-9_\-]{12,}|sk_[A-Za-z0-9]{12,}|hf_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|xox[abpr]-[A-Za-z0-9\-]{10,}|AKIA[0-9A-Z]{16}|Bearer\s+\S{8,})$"
)


def find_secrets(node: Any, loc: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Locations of secret-looking fields (an ``api_key``, ``token``, ``password``...) or values
    (``sk-...``, ``hf_...``) in a config tree. Names such as ``api_key_env`` (the NAME of an
    environment variable) or ``max_tokens`` are not secrets."""
    found: list[tuple[str, ...]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            here = (*loc, str(k))
            if SECRET_KEY.search(str(k)) and v not in (None, ""):
                found.append(here)
            else:
                found += find_secrets(v, here)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += find_secrets(v, (*loc, str(i)))
    elif isinstance(node, str) and SECRET_VALUE.match(node.strip()):
        found.append(loc)
    return found


def load_config(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> RunConfig:
    """Load a YAML config (or the defaults) and apply dotted-key overrides.

    ``labels`` names where each override came from (``--set train.lr=x``, ``--base-url``) for
    error messages; the default is ``--set KEY``. Every error is a one-line ConfigError naming the
    file and line, or the override, and the field. Secret-looking values are refused without being
    echoed."""
    data: dict[str, Any] = {}
    text = ""
    if path is not None:
        path = Path(path)
        text = read_config_text(path)
        data = load_yaml(text, str(path))
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config must be a mapping of fields")
    labels = labels or {}
    origin: dict[tuple[str, ...], str] = {}
    # deep copies: an override must never write into the caller's nested dicts
    for key, value in copy.deepcopy(overrides or {}).items():
        label = labels.get(key, f"--set {key}")
        parts = tuple(key.split("."))
        if not all(parts):
            raise ConfigError(f"{label}: {key!r} is not a dotted field name")
        node = data
        for i, p in enumerate(parts[:-1]):
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"{label}: {'.'.join(parts[: i + 1])} holds a value, not a section of fields"
                )
            node = child
        node[parts[-1]] = value
        origin[parts] = label
    secrets = find_secrets(data)
    if secrets:
        loc = list(secrets[0])
        raise ConfigError(
            f"{_where(path, text, loc, origin)}: {'.'.join(loc)}: looks like a secret (value not "
            "shown); never put credentials in a config: put the key in an environment variable "
            "and give that variable's NAME (expert.llm.api_key_env)"
        )
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = [str(x) for x in err["loc"]]
        msg = " ".join(str(err["msg"]).split()).removeprefix("Value error, ")
        raise ConfigError(f"{_where(path, text, loc, origin)}: {'.'.join(loc)}: {msg}") from None


def _where(path: Path | None, text: str, loc: list[str], origin: dict[tuple[str, ...], str]) -> str:
    """The override that set ``loc`` (or a section above or below it), else ``FILE:LINE``."""
    for parts, label in origin.items():
        n = min(len(parts), len(loc))
        if tuple(loc[:n]) == parts[:n]:
            return label
    line = yaml_line(text, loc) if text else None
    return f"{path}:{line}" if line else str(path or "config")


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
