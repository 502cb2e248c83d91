"""The accelerate configs shipped in examples/accelerate/ load with accelerate's own reader,
choose the backend their name says, leave mixed precision to tripost, and say when to use them
in their first comment line."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.utils import DistributedType

DIR = Path(__file__).parents[2] / "examples" / "accelerate"
BACKENDS = {
    "ddp.yaml": (DistributedType.MULTI_GPU, None),
    "fsdp.yaml": (DistributedType.FSDP, None),
    "deepspeed_zero2.yaml": (DistributedType.DEEPSPEED, 2),
    "deepspeed_zero3.yaml": (DistributedType.DEEPSPEED, 3),
}


def test_every_backend_has_a_config():
    assert sorted(p.name for p in DIR.glob("*.yaml")) == sorted(BACKENDS)


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_accelerate_reads_the_config(name):
    path = DIR / name
    cfg = load_config_from_file(str(path))
    kind, zero = BACKENDS[name]
    assert cfg.distributed_type == kind
    assert cfg.mixed_precision == "no"  # train.bf16 is tripost's own autocast
    if zero is not None:
        assert cfg.deepspeed_config["zero_stage"] == zero
    if zero == 3:  # the checkpoints need the full weights gathered
        assert cfg.deepspeed_config["zero3_save_16bit_model"]
    if kind == DistributedType.FSDP:
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"
    first = path.read_text().splitlines()[0]
    assert first.startswith("# ") and "use it " in first
    assert f"accelerate launch --config_file examples/accelerate/{name}" in path.read_text()
