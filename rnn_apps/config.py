"""Typed run configuration: dataclass defaults, presets, config files and ``--set``.

Every task has one dataclass of settings with typed defaults (see ``models/<task>.py``).
The value of a key is decided in this order, later wins:

    dataclass default  <  preset  <  config file (YAML or JSON)  <  --set key=value  <  CLI flags

Unknown keys and wrongly typed values are ``UserError``s that name the key and list the
valid keys or the expected type. The resolved config is saved as ``config.yaml`` in the
run directory, so a run can always be reproduced or resumed.

Fields carry their help text and bounds in ``metadata`` (use :func:`setting`), which is
what ``rnn-apps config TASK`` prints.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import typing
from pathlib import Path
from typing import Any, Iterable, Literal

import yaml

from rnn_apps.data.readers import read_text_file
from rnn_apps.errors import UserError


def setting(default: Any, help: str, *, min: float | None = None, max: float | None = None,
            above: float | None = None, below: float | None = None) -> Any:
    """A dataclass field with a help text and optional bounds: ``min``/``max`` inclusive,
    ``above``/``below`` exclusive (a learning rate above 0: at 0 nothing can be learnt)."""
    return dataclasses.field(default=default, metadata={"help": help, "min": min, "max": max,
                                                        "above": above, "below": below})


def bounds(cls: type, key: str) -> dict[str, float]:
    """The bounds of ``cls``'s field ``key``: its own, and those of the same field in every
    base class, the strictest winning. A task that redefines a shared field (another default
    learning rate) keeps the shared field's range: no task can widen it by accident."""
    found: dict[str, float] = {}
    for klass in cls.__mro__:
        field = getattr(klass, "__dataclass_fields__", {}).get(key)
        if field is None:
            continue
        for name, pick in (("min", max), ("above", max), ("max", min), ("below", min)):
            value = field.metadata.get(name)
            if value is not None:
                found[name] = value if name not in found else pick(found[name], value)
    if "min" in found and "above" in found:  # only the stricter of a pair says anything
        del found["min" if found["min"] <= found["above"] else "above"]
    if "max" in found and "below" in found:
        del found["max" if found["max"] >= found["below"] else "below"]
    return found


def range_text(limits: dict[str, float]) -> str:
    """``{"above": 0, "max": 1}`` -> ``"> 0 and <= 1"``."""
    signs = {"min": ">=", "above": ">", "max": "<=", "below": "<"}
    return " and ".join(f"{signs[name]} {limits[name]}" for name in signs if name in limits)


@dataclasses.dataclass
class TrainConfig:
    """Settings every task shares: optimisation, splitting, batching."""

    epochs: int = setting(10, "passes over the training split", min=1)
    batch_size: int = setting(64, "examples per mini-batch", min=1)
    learning_rate: float = setting(2e-3, "optimizer step size", above=0)
    lr_schedule: Literal["constant", "cosine"] = setting(
        "constant", "constant, or cosine: decay to 0 over the epochs after a warm-up of warmup_steps")
    warmup_steps: int = setting(0, "steps of linear warm-up from 0 to learning_rate (cosine schedule)", min=0)
    weight_decay: float = setting(0.0, "decoupled weight decay (AdamW-style) of every weight (0 = off)", min=0)
    optimizer: Literal["adam", "rmsprop", "sgd"] = setting("adam", "optimizer")
    global_clipnorm: float = setting(
        1.0, "clip the gradient when its global L2 norm passes this (0 = off)", min=0)
    clipnorm: float = setting(0.0, "clip each weight's gradient norm separately (0 = off)", min=0)
    early_stopping: int = setting(3, "stop after this many epochs without val_loss progress (0 = off)", min=0)
    seed: int = setting(42, "seed for data generation, splitting, shuffling and weights", min=0, max=2**32 - 1)
    val_fraction: float = setting(0.1, "fraction held out for validation", min=0, max=0.5)
    test_fraction: float = setting(0.1, "fraction held out for the final test", min=0, max=0.5)
    split: Literal["auto", "random", "group", "contained", "ordered"] = setting(
        "auto", "how val/test are held out: random; group (copies of one text, the captions of one image, the "
        "translations of one sentence stay together); contained (group, and phrases of a longer text join it: "
        "SST-2); ordered (the last part of the file); auto: the task's honest choice")
    val_data: str = setting("", "your own validation file (then nothing is split off for validation)")
    test_data: str = setting("", "your own test file (then nothing is split off for testing)")
    batching: Literal["bucket", "longest", "max"] = setting(
        "bucket", "bucket: group similar lengths; longest: pad to the batch's longest; "
        "max: pad every batch to max_length")
    cache: bool = setting(True, "cache the vectorized examples in memory (tf.data cache)")
    streaming: bool = setting(False, "read --data as a stream for data larger than memory: one checking pass, "
                              "split by hashing, vocabularies fitted on a sample, the file re-read every epoch "
                              "(sentiment, translate)")
    stream_sample: int = setting(200_000, "streaming: training examples the vocabularies and labels are fitted on",
                                 min=1)
    stream_held_out: int = setting(10_000, "streaming: val and test examples kept (a uniform sample of each part; "
                                   "the other held-out rows are skipped)", min=1)
    shuffle_buffer: int = setting(50_000, "streaming: examples the training shuffle draws from", min=1)
    steps_per_epoch: int = setting(0, "batches per epoch (0 = one pass over the training split)", min=0)
    time_budget: float = setting(0.0, "stop after this many minutes of training, at the end of the "
                                 "current step, then validate and checkpoint (0 = no limit)", min=0)
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = setting(
        "float32", "mixed_*: compute in 16 bits, keep weights, loss and output softmax in float32 "
        "(bfloat16 pays on CPUs with AVX512_BF16/AMX and on TPUs/GPUs; float16 on GPUs)")
    jit_compile: Literal["auto", "true", "false"] = setting(
        "auto", "compile the train step with XLA (auto: Keras decides, on where the model supports it)")


@dataclasses.dataclass
class RecurrentConfig:
    """The recurrent stack shared by the text tasks (see ``rnn_apps.layers``)."""

    cell: Literal["vanilla", "simple", "lstm", "gru"] = setting(
        "gru", "recurrent cell: vanilla (the lecture's equations), simple (Keras SimpleRNN), lstm or gru")
    units: int = setting(64, "hidden units per recurrent layer (per direction)", min=1)
    layers: int = setting(1, "stacked recurrent layers", min=1)
    bidirectional: bool = setting(True, "read the sequence in both directions")
    residual: bool = setting(False, "add skip connections between stacked layers")
    dropout: float = setting(0.0, "dropout between layers and before the output", min=0, max=0.95)
    recurrent_dropout: float = setting(0.0, "dropout on the recurrent state inside each step (cells simple, "
                                       "lstm, gru)", min=0, max=0.95)
    embedding_dim: int = setting(64, "size of the token embedding", min=1)


@dataclasses.dataclass
class VisionConfig:
    """The image side shared by the vision tasks (see ``rnn_apps.layers.cnn``)."""

    image_size: int = setting(64, "images and frames are resized to this many pixels square", min=8)
    channels: int = setting(3, "colour channels: 1 (grey) or 3 (RGB)", min=1, max=3)
    cnn: str = setting("small", "small: a conv net trained from scratch (CPU-friendly); or a keras.applications "
                                "model by name (MobileNetV2, ResNet50, EfficientNetB0, ...), its weights random "
                                "or from cnn_weights")
    cnn_filters: int = setting(24, "filters of each layer of the small conv net", min=1)
    cnn_layers: int = setting(4, "3x3 stride-2 conv layers of the small conv net (each halves the grid)", min=1)
    cnn_weights: str = setting("", "a .weights.h5 file of weights for the keras.applications backbone "
                                   "(nothing is downloaded)")


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def describe_fields(cls: type) -> list[dict[str, Any]]:
    """Rows of (key, type, default, help) for ``rnn-apps config TASK``."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        rows.append({"key": f.name, "type": _type_name(hints[f.name]),
                     "default": f.default, "help": f.metadata.get("help", "")})
    return rows


def resolve_config(cls: type, *, presets: dict[str, dict] | None = None, preset: str | None = None,
                   file: str | Path | None = None, overrides: Iterable[str] = (),
                   **flags: Any) -> Any:
    """Build a config of ``cls`` from defaults, a preset, a file, ``--set`` strings and flags.

    ``flags`` whose value is None are ignored (a CLI flag the user did not give).
    """
    values: dict[str, Any] = {}
    if preset is not None:
        presets = presets or {}
        if preset not in presets:
            raise UserError(f"unknown preset {preset!r}; valid presets: {', '.join(presets) or 'none'}")
        values.update(_checked(cls, presets[preset], origin=f"preset {preset!r}"))
    if file is not None:
        values.update(_checked(cls, read_config_file(file), origin=str(file)))
    for item in overrides:
        key, text = _split_override(item)
        if key not in _hints(cls) and key in RENAMED:
            old, key, text = key, RENAMED[key][0], RENAMED[key][1].get(text, text)
            with said_as_old_name(old, key):
                values.update(_checked(cls, {key: parse_value(cls, key, text)}, origin="--set"))
            continue
        values.update(_checked(cls, {key: parse_value(cls, key, text)}, origin="--set"))
    values.update(_checked(cls, {k: v for k, v in flags.items() if v is not None}, origin="option"))
    return cls(**values)


def config_from_dict(cls: type, data: dict[str, Any], origin: str = "config") -> Any:
    """Strictly rebuild a saved config (unknown keys and wrong types are errors)."""
    return cls(**_checked(cls, data, origin=origin))


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    text = read_text_file(path)
    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses (a control character)
            line = text.count("\n", 0, exc.position) + 1
        where = f"{path}:{line}" if line else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{where}: not valid YAML/JSON ({problem})") from None
    except ValueError as exc:  # a value yaml cannot build: a date 2001-02-30, !!float x
        raise UserError(f"{path}: not valid YAML/JSON ({exc})") from None
    except RecursionError:
        raise UserError(f"{path}: not valid YAML/JSON (nested too deeply)") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a config file must hold a mapping of key: value")
    return data


def save_config(cfg: Any, path: Path) -> None:
    path.write_text(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False), encoding="utf-8")


def load_config(cls: type, path: Path) -> Any:
    return config_from_dict(cls, read_config_file(path), origin=str(path))


def parse_value(cls: type, key: str, text: str) -> Any:
    """Turn the text of ``--set key=text`` into the type the field declares."""
    hint = _hints(cls).get(key)
    if hint is None:
        raise UserError(_unknown_key(cls, key))
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise UserError(f"config key {key!r} expects a boolean (true/false), got {text!r}")
    if hint is int:
        try:
            return int(text)
        except ValueError:
            raise UserError(f"config key {key!r} expects an integer, got {text!r}") from None
    if hint is float:
        try:
            return float(text)
        except ValueError:
            raise UserError(f"config key {key!r} expects a number, got {text!r}") from None
    return text  # str and Literal choices are checked in _checked


def _split_override(item: str) -> tuple[str, str]:
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--set expects KEY=VALUE, got {item!r}")
    return key.strip(), text.strip()


def _hints(cls: type) -> dict[str, Any]:
    names = set(field_names(cls))
    return {k: v for k, v in typing.get_type_hints(cls).items() if k in names}


def _unknown_key(cls: type, key: str) -> str:
    return f"unknown config key {key!r}; valid keys: {', '.join(field_names(cls))}"


# Keys renamed since runs were first saved: old key -> (new key, old value -> new value).
# A run directory from before keeps loading; an old config file keeps working.
RENAMED = {"level": ("tokenizer", {"word": "words", "char": "chars"})}


def _renamed(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(cls)
    out = {}
    for key, value in data.items():
        if key not in hints and key in RENAMED and RENAMED[key][0] in hints:
            # an unhashable value (a list) cannot be an old name: _checked refuses it under the new key
            key, value = RENAMED[key][0], RENAMED[key][1].get(value, value) if isinstance(value, str) else value
        out[key] = value
    return out


@contextlib.contextmanager
def said_as_old_name(old: str, new: str):
    """A bad value given under a renamed key's old name says so: the user wrote ``level``,
    not ``tokenizer``, and must find the line."""
    try:
        yield
    except UserError as exc:
        raise UserError(f"{exc} (given as {old!r}, the old name of {new!r})") from None


def _checked(cls: type, data: dict[str, Any], origin: str) -> dict[str, Any]:
    """Check keys, types and bounds of ``data`` against ``cls``; return normalised values."""
    hints = _hints(cls)
    old_names = {RENAMED[k][0]: k for k in data if k not in hints and k in RENAMED and RENAMED[k][0] in hints}
    data = _renamed(cls, data)
    out = {}
    for key, value in data.items():
        if key in old_names:
            with said_as_old_name(old_names[key], key):
                out.update(_checked(cls, {key: value}, origin))
            continue
        if key not in hints:
            raise UserError(f"{origin}: {_unknown_key(cls, key)}")
        hint = hints[key]
        out[key] = value = _coerce(key, hint, value, origin)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):  # nan and inf compare as inside any bounds
                raise UserError(f"{origin}: config key {key!r} must be a finite number, got {value}")
            limits = bounds(cls, key)
            outside = {"min": value < limits.get("min", -math.inf), "above": value <= limits.get("above", -math.inf),
                       "max": value > limits.get("max", math.inf), "below": value >= limits.get("below", math.inf)}
            for name, sign in (("min", ">="), ("above", ">"), ("max", "<="), ("below", "<")):
                if outside[name]:
                    raise UserError(f"{origin}: config key {key!r} must be {sign} {limits[name]}, got {value}"
                                    + (f" (its range: {range_text(limits)})" if len(limits) > 1 else ""))
    return out


def _coerce(key: str, hint: Any, value: Any, origin: str) -> Any:
    expected = _type_name(hint)
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise UserError(f"{origin}: config key {key!r} must be one of "
                            f"{', '.join(map(str, choices))}; got {value!r}")
        return value
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif hint is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover - only the types above are used in configs
        ok = True
    if not ok:
        raise UserError(f"{origin}: config key {key!r} expects {expected}, got {value!r}")
    return value


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return " | ".join(map(str, typing.get_args(hint)))
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        hint, str(hint))
