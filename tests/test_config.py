import dataclasses
import re
from typing import Literal

import pytest

from rnn_apps.config import (TrainConfig, describe_fields, load_config, resolve_config, save_config,
                             setting)
from rnn_apps.errors import UserError


@dataclasses.dataclass
class DemoConfig(TrainConfig):
    cell: Literal["simple", "lstm", "gru"] = setting("gru", "cell")
    units: int = setting(8, "units", min=1)
    bidirectional: bool = setting(True, "both directions")
    name: str = setting("x", "a name")


PRESETS = {"big": {"units": 64, "epochs": 3}}


def test_precedence_default_preset_file_set_flag(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("units: 128\nepochs: 5\ncell: lstm\n")
    cfg = resolve_config(DemoConfig, presets=PRESETS, preset="big", file=file,
                         overrides=["epochs=7", "bidirectional=false"], epochs=None, batch_size=16)
    assert (cfg.units, cfg.cell, cfg.epochs, cfg.bidirectional, cfg.batch_size) == (128, "lstm", 7, False, 16)
    assert resolve_config(DemoConfig, presets=PRESETS, preset="big").units == 64
    assert resolve_config(DemoConfig).units == 8


def test_json_config_file(tmp_path):
    file = tmp_path / "c.json"
    file.write_text('{"units": 3, "learning_rate": 1}')
    cfg = resolve_config(DemoConfig, file=file)
    assert cfg.units == 3 and cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)


def test_unknown_key_lists_valid_keys():
    with pytest.raises(UserError, match="unknown config key 'unitz'; valid keys: .*units"):
        resolve_config(DemoConfig, overrides=["unitz=3"])


@pytest.mark.parametrize("item, message", [
    ("units=abc", "'units' expects an integer, got 'abc'"),
    ("learning_rate=fast", "'learning_rate' expects a number"),
    ("bidirectional=maybe", "'bidirectional' expects a boolean"),
    ("cell=rnn", "'cell' must be one of simple, lstm, gru; got 'rnn'"),
    ("units=0", "'units' must be >= 1, got 0"),
    ("units", "--set expects KEY=VALUE"),
])
def test_bad_override_names_key_and_type(item, message):
    with pytest.raises(UserError, match=message):
        resolve_config(DemoConfig, overrides=[item])


def test_wrong_type_in_file_names_file_and_key(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("units: '12'\n")
    with pytest.raises(UserError, match=r"c.yaml: config key 'units' expects an integer"):
        resolve_config(DemoConfig, file=file)


def test_bad_yaml_reports_line(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("units: 3\n  bad: [\n")
    with pytest.raises(UserError, match=r"c.yaml:\d+: not valid YAML"):
        resolve_config(DemoConfig, file=file)


def test_unknown_preset_lists_presets():
    with pytest.raises(UserError, match="unknown preset 'huge'; valid presets: big"):
        resolve_config(DemoConfig, presets=PRESETS, preset="huge")


def test_save_and_load_round_trip(tmp_path):
    cfg = resolve_config(DemoConfig, overrides=["units=5", "cell=simple", "name=hello world"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(DemoConfig, tmp_path / "config.yaml") == cfg


def test_describe_fields_has_help_for_every_key():
    rows = describe_fields(DemoConfig)
    assert [r["key"] for r in rows][-4:] == ["cell", "units", "bidirectional", "name"]
    assert all(r["help"] for r in rows)


def test_a_redefined_field_keeps_the_shared_range():
    """A task's config that redefines a shared field (another default, a looser bound) keeps
    the shared field's range; exclusive bounds are refused at the bound itself."""
    import dataclasses as dc

    from rnn_apps.config import TrainConfig, bounds, config_from_dict, setting
    from rnn_apps.errors import UserError

    @dc.dataclass
    class Loose(TrainConfig):
        learning_rate: float = setting(1e-3, "step", min=0)
        epochs: int = setting(5, "passes", min=0, max=9)

    assert bounds(Loose, "learning_rate") == {"above": 0}
    assert bounds(Loose, "epochs") == {"min": 1, "max": 9}
    for key, value, said in (("learning_rate", 0.0, "must be > 0, got 0.0"), ("learning_rate", -1.0, "> 0"),
                             ("epochs", 0, "must be >= 1, got 0 (its range: >= 1 and <= 9)")):
        with pytest.raises(UserError, match=re.escape(said)):
            config_from_dict(Loose, {key: value})
    assert config_from_dict(Loose, {"learning_rate": 1e-9}).learning_rate == 1e-9


def test_an_old_key_keeps_working_and_a_bad_value_under_it_names_the_key_the_user_wrote(tmp_path):
    from rnn_apps.models import get_task

    cls = get_task("sentiment").config_class
    old = tmp_path / "old.yaml"
    old.write_text("level: char\n")
    assert resolve_config(cls, file=old).tokenizer == "chars"
    assert resolve_config(cls, overrides=["level=word"]).tokenizer == "words"
    old.write_text("level: x\n")
    for kwargs in ({"file": old}, {"overrides": ["level=x"]}):
        with pytest.raises(UserError, match=r"'tokenizer' must be one of .*given as 'level', the old name"):
            resolve_config(cls, **kwargs)
