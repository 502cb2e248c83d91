"""Method names, the typed iteration, and the config's ``methods`` field."""

import pytest

from tripost.config import ConfigError, load_config
from tripost.methods import METHODS, Iteration, checkpoint, evaluations, parse_methods


def test_iteration_names_and_previous_checkpoints():
    assert Iteration("tripost", 3).name == "iter3"
    assert Iteration("tripost_auto", 2).name == "auto_iter2"
    assert Iteration("tripost", 1).prev == "sft"
    assert Iteration("tripost_auto", 3).prev == "auto_iter2"
    for it in (Iteration("tripost", 12), Iteration("tripost_auto", 1)):
        assert Iteration.parse(it.name) == it
    for bad in ("iter", "iterx", "sft", "auto_iter0x"):
        with pytest.raises(ValueError):
            Iteration.parse(bad)
    with pytest.raises(ValueError):
        Iteration("sft_more", 1)
    with pytest.raises(ValueError):
        Iteration("tripost", 0)


def test_evaluations_in_report_order():
    assert evaluations(["lmsi", "sft", "tripost", "tripost_auto"], 2) == [
        ("sft", "sft", 0),
        ("iter1", "tripost", 1),
        ("iter2", "tripost", 2),
        ("auto_iter1", "tripost_auto", 1),
        ("auto_iter2", "tripost_auto", 2),
        ("lmsi", "lmsi", 0),
    ]
    assert checkpoint("tripost_auto", 3) == "auto_iter3" and checkpoint("lmsi", 0) == "lmsi"


def test_parse_methods():
    assert parse_methods("sft, lmsi,tripost") == ["sft", "lmsi", "tripost"]
    with pytest.raises(ValueError, match="unknown method 'sft_less'"):
        parse_methods("sft,sft_less")
    with pytest.raises(ValueError, match="twice"):
        parse_methods("sft,sft")
    with pytest.raises(ValueError, match="no method"):
        parse_methods(" , ")


def test_config_methods_default_to_the_old_behaviour():
    assert load_config(None).run_methods() == ["sft", "tripost", "sft_more"]
    assert load_config(None, {"sft_more": False}).run_methods() == ["sft", "tripost"]
    cfg = load_config(None, {"methods": ["lmsi", "sft", "tripost_auto"]})
    assert cfg.run_methods() == ["sft", "tripost_auto", "lmsi"]
    assert set(METHODS) == {"sft", "tripost", "tripost_auto", "sft_more", "sft_si_demos", "lmsi"}


def test_a_bad_method_in_a_config_file_names_file_line_and_field(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("task: multistep_arithmetic\nmethods: [sft, tripots]\n")
    with pytest.raises(ConfigError, match=r"c\.yaml:2: methods: .*unknown method 'tripots'"):
        load_config(p)
