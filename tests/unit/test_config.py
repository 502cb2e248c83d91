from importlib import resources

import pytest

from tripost.config import ConfigError, RunConfig, dump_config, load_config


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text,where,field",
    [
        ("sft:\n  lr: fast\n", ":2:", "sft.lr"),
        ("task: word_sorting\nrollout:\n  temprature: 1.0\n", ":3:", "rollout.temprature"),
        ("postprocess: {ratio: -}\n", ":1:", "postprocess.ratio"),
        ("iterations: [1]\n", ":1:", "iterations"),
        # out of range: a negative step count used to pass and crash after the data was written
        ("task: word_sorting\nsft:\n  steps: -1\n", ":3:", "sft.steps"),
        ("train: {batch_size: 0}\n", ":1:", "train.batch_size"),
        ("sft: {epochs: 0}\n", ":1:", "sft.epochs"),
    ],
)
def test_bad_field_names_file_line_and_field(tmp_path, text, where, field):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}{where} {field}:") and "\n" not in msg


def test_invalid_yaml_names_the_line(tmp_path):
    p = write(tmp_path, "task: a\nsft: {steps: 3\n")
    with pytest.raises(ConfigError, match=rf"{p}:\d+: invalid YAML"):
        load_config(p)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- 1\n- 2\n"))


def test_overrides_use_dotted_keys_and_null_disables_rebalancing(tmp_path):
    cfg = load_config(
        write(tmp_path, "sft: {steps: 5}\n"), {"sft.lr": 0.5, "postprocess.ratio": None}
    )
    assert cfg.sft.steps == 5 and cfg.sft.lr == 0.5 and cfg.postprocess.ratio is None


def test_every_shipped_config_is_valid_and_round_trips():
    configs = [
        p for p in (resources.files("tripost") / "configs").iterdir() if p.name.endswith(".yaml")
    ]
    assert len(configs) >= 8
    for path in configs:
        cfg = load_config(str(path))
        assert RunConfig.model_validate(__import__("yaml").safe_load(dump_config(cfg))) == cfg


def test_overrides_do_not_mutate_the_callers_dicts():
    base = {"sft": {"steps": 5, "lr": 0.1}}
    load_config(None, {**base, "sft.steps": 0})
    assert base == {"sft": {"steps": 5, "lr": 0.1}}
