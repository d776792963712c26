"""What a task is: the record each ``models/<task>.py`` ends with, and the pieces it names.

A task is data plus three small contracts:

* its **inputs**, by name and kind (``rnn_apps.data.inputs``: text today; images and
  clips in the vision tasks): each fits, saves and loads itself, encodes raw values and
  describes its raw and tensor-only serving specs;
* its **output**, by kind (``rnn_apps.outputs``: one label, a token sequence, the next
  token): targets and loss, ``predict`` / ``evaluate`` results, serving signatures and
  the options those take (beam width, temperature ...);
* ``build_model(cfg, features)``: the Keras model, in the functional API, whose inputs
  are named after the task's inputs.

The training loop, the CLI and the exporters only talk to a task through this record,
so adding a task means writing one module that fills it in and adding one line to
``models/__init__.py``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from rnn_apps.data.examples import Examples, as_text, containment_groups, split_examples, text_key
from rnn_apps.errors import UserError


class Input(Protocol):
    """An input kind: how one named model input is fitted, saved, encoded and served.

    Kinds: ``rnn_apps.data.inputs.TextInput`` ("text"), ``rnn_apps.data.vision.ImageInput``
    ("image") and ``FramesInput`` ("frames"). Shapes: ``b`` examples, ``T`` steps.
    """

    name: str       # the model input's name and the data column it reads
    kind: str       # "text", "image", "frames": what the runtime, the CLI and the server key on
    sequence: bool  # batches are bucketed and padded by its length (text, clips)

    # --- fitting and files -----------------------------------------------------------------
    def prepare(self, values: list, origins: list | None = None) -> Any:
        """Raw values as read (strings, paths, arrays) -> what ``encode`` takes, in Python."""
    def fit(self, values: list) -> "Input":
        """Fit on the training values (a vocabulary; nothing for pictures); returns itself."""
    def save(self, directory: Path) -> None: ...
    def load(self, directory: Path) -> "Input": ...
    def settings(self) -> dict:
        """What an export's manifest says of it (tokenization, picture size, static length)."""

    # --- values -> tensors ------------------------------------------------------------------
    @property
    def static_length(self) -> int:
        """Steps of the tensor-only signature (``max_length``, ``max_frames``); sequences only."""
    def lengths(self, prepared: Any) -> Any:
        """``[n]`` steps of each prepared value (bucket boundaries); sequences only."""
    def encode(self, values: Any) -> Any:
        """A batch of prepared values -> tensors, inside tf.data (ragged ``[b, (T)]`` ids)."""
    def batch(self, values: list, origins: list | None = None) -> dict:
        """Raw values -> ``{model input name: dense [b, ...] tensor}`` (what predict feeds)."""
    def step_mask(self, batch: dict) -> Any:
        """``[b, T]`` float, 1.0 on real steps, from what ``batch`` (or a signature) holds: text
        ids != 0, a clip's ``{name}_mask``; the one mask convention per-step outputs read."""

    # --- serving ----------------------------------------------------------------------------
    def raw_specs(self) -> list:
        """The raw signature's ``tf.TensorSpec`` list (``[None]`` strings, ``[None, H, W, C]`` floats)."""
    def tensor_specs(self, length: int | None = None) -> list:
        """The tensor-only signature's specs, static shapes (``[1, length]`` int32 ids)."""
    def from_raw(self, tensors: list) -> dict:
        """The raw signature's tensors -> the model's inputs by name (tokenizing in the graph)."""
    def from_tensors(self, tensors: list) -> dict: ...
    def raw_values(self, values: list) -> dict:
        """Realistic raw arguments for ``values`` (export checks)."""
    def tensor_values(self, values: list, length: int | None = None) -> dict: ...


class Output(Protocol):
    """An output kind: targets, loss, results and signatures of what a task predicts.

    Kinds (``rnn_apps.outputs``): ``ClassLabel`` ("label": ``[b, K]`` probabilities),
    ``TokenSequence`` ("sequence": an encoder-decoder's text), ``NextToken`` ("next_token":
    ``[b, T, V]`` logits), ``LabelPerStep`` ("labels_per_step": ``[b, T, K]``, softmax or CRF).
    Their result dicts come from ``rnn_apps.outputs.results`` where the TF-free runtime shares them.
    """

    kind: str
    predict_options: tuple[str, ...]   # names in ``rnn_apps.options.OPTIONS`` that predict takes
    evaluate_options: tuple[str, ...]

    def fit(self, features: "Features", train: Examples) -> None:
        """Fit on the training targets (a label set, a target vocabulary)."""
    def save(self, directory: Path) -> None: ...
    def load(self, features: "Features", directory: Path) -> None: ...
    def settings(self) -> dict:
        """What an export's manifest says of it (labels, decoding ids); ``"kind"`` included."""

    # --- training (``ClassLabel`` and ``LabelPerStep`` also give ``head(x)``: the model's last
    # layers on features ``[b, D]`` / ``[b, T, D]``; the text generators' models end in their own
    # logits, built with the decoding twins they need) ---------------------------------------
    def dataset(self, features: "Features", examples: Examples, cfg: Any, training: bool) -> Any:
        """tf.data batches of ``({input name: tensor}, target[, weight])``."""
    def compile_args(self, features: "Features") -> dict:
        """``loss``, metrics (and loss weights) for ``model.compile``."""
    def callbacks(self) -> list:
        """Keras callbacks the kind needs in training (state resets for truncated BPTT)."""

    # --- results ----------------------------------------------------------------------------
    def predict(self, model: Any, features: "Features", inputs: list[dict], **options) -> list[dict]:
        """One JSON-ready dict per input (what ``--json`` prints), ``options`` from ``predict_options``."""
    def evaluate(self, model: Any, features: "Features", examples: Examples, **options) -> dict:
        """The kind's metrics on labelled examples (numbers, and tables as dicts)."""
    def parity_probe(self, features: "Features", examples: Examples) -> Any:
        """A ``rnn_apps.outputs.results.ParityProbe``: held-out inputs that a run and its
        export must answer alike, the options that make answers deterministic, the truth and
        the kind's metric (``rnn-apps export --check`` compares both sides with it)."""

    # --- serving ----------------------------------------------------------------------------
    def signatures(self, model: Any, features: "Features", seq_len: int | None = None) -> dict:
        """``{name: Signature}``: a raw one (strings in, labels or text out) and tensor-only ones
        with static shapes (what TFLite converts); see ``rnn_apps.outputs.signatures``."""
    def signature_inputs(self, model: Any, features: "Features", examples: Examples,
                         seq_len: int | None = None) -> dict:
        """Realistic arguments of each signature for ``examples`` (export checks)."""


@dataclasses.dataclass
class Features:
    """A run's fitted inputs and output (vocabularies, label sets), saved with the run."""

    cfg: Any
    inputs: dict[str, Input]
    output: Output

    def fit(self, train: Examples) -> "Features":
        for name, kind in self.inputs.items():
            kind.fit(train[name])
        self.output.fit(self, train)
        return self

    def save(self, directory: Path) -> None:
        for kind in self.inputs.values():
            kind.save(directory)
        self.output.save(directory)

    def load(self, directory: Path) -> "Features":
        """Read what ``save`` wrote; a missing or damaged file is a ``UserError`` naming it."""
        for name, part in [*self.inputs.items(), ("output", self.output)]:
            try:
                part.load(directory) if part is not self.output else part.load(self, directory)
            except UserError:
                raise
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                file = getattr(part, "file", None) or getattr(getattr(part, "text", None), "file", name)
                raise UserError(f"{directory / file}: missing or damaged ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
        return self

    def dataset(self, examples: Examples, training: bool, batch_size: int | None = None):
        """tf.data batches of ``({input name: tensor}, target)`` (see ``rnn_apps.data.pipeline``),
        of ``batch_size`` examples (default the config's; several workers share global batches)."""
        cfg = dataclasses.replace(self.cfg, batch_size=batch_size) if batch_size else self.cfg
        return self.output.dataset(self, examples, cfg, training)

    @property
    def primary(self) -> str:
        """The input that bare CLI arguments fill (the first one declared)."""
        return next(iter(self.inputs))

    def encode(self, examples: Examples, batch_size: int = 256):
        """Yield ``{model input name: dense tensor}`` for consecutive batches of ``examples``
        (no targets: what predict and evaluate feed the model)."""
        import tensorflow as tf

        from rnn_apps.progress import track

        starts = range(0, len(examples), batch_size)
        for start in track(starts, len(starts), f"running {len(examples):,} examples"):
            part = examples.take(range(start, min(start + batch_size, len(examples))))
            batch = {}
            for name, kind in self.inputs.items():
                batch.update(kind.batch(part[name], part.origins))
            yield {k: tf.convert_to_tensor(v) for k, v in batch.items()}

    def as_examples(self, inputs: list, origin: str = "input") -> Examples:
        """User inputs (dicts by input name, or bare values for the primary input) as
        ``Examples``; a missing input is a ``UserError`` naming it."""
        rows = [value if isinstance(value, dict) else {self.primary: value} for value in inputs]
        for i, row in enumerate(rows):
            missing = [name for name in self.inputs if name not in row]
            unknown = [name for name in row if name not in self.inputs]
            if missing or unknown:
                problems = ([f"no input named {', '.join(unknown)}"] if unknown else []) + \
                    ([f"missing {', '.join(missing)}"] if missing else [])
                raise UserError(f"{origin} {i + 1}: {'; '.join(problems)}; this task reads {', '.join(self.inputs)}")
        return Examples({name: [row[name] for row in rows] for name in self.inputs},
                        [f"{origin} {i + 1}" for i in range(len(rows))])


def model_inputs(model: Any, tensors: dict) -> Any:
    """What to call ``model`` with: the dict by input name, or its one tensor when the
    model has a single input (models saved before inputs were named read ``tokens``)."""
    if len(model.inputs) == 1 and len(tensors) == 1:
        return next(iter(tensors.values()))
    return tensors


def run_inference(model: Any, tensors: dict) -> Any:
    """``model(tensors, training=False)``, in a graph kept per model from its second call
    (``rnn_apps.graphs.kept_graph``): used by evaluation, prediction and serving."""
    from rnn_apps.graphs import kept_graph

    return kept_graph(model, "inference", lambda m, x: m(model_inputs(m, x), training=False))(tensors)


@dataclasses.dataclass(frozen=True)
class Task:
    """One application: its config, data, inputs, output and model.

    Attributes:
        name: the CLI name (``rnn-apps train NAME``).
        shape: the problem shape from the notes (``many-to-one`` ...).
        description: one line for ``rnn-apps tasks``.
        config_class: the task's config dataclass (typed defaults).
        presets: named partial configs, e.g. ``{"tiny": {...}}`` for tests.
        load_examples: ``(cfg, source or None) -> Examples``; None = built-in generator.
        inputs: ``cfg -> {name: input kind}`` (unfitted).
        output: ``cfg -> output kind`` (unfitted).
        build_model: ``(cfg, Features) -> keras.Model`` (not compiled), inputs named as
            the task's inputs.
        split: what the config's ``split: auto`` means for this task: ``random`` (a
            seeded shuffle), ``ordered`` (text for a language model), ``group`` (examples
            whose first input is the same text or image stay in one part: an image's
            captions, a sentence's translations, copies of a review) or ``contained``
            (``group``, and when at least a tenth of the texts are phrases of longer texts,
            as in SST-2, phrases join their sentence's group and held-out parts keep
            whole texts only). See :meth:`split_examples`.
        stream_examples: ``(cfg, source) -> chunks of Examples`` read as a stream (what
            ``load_examples`` reads, a chunk at a time), for data larger than memory
            (``streaming: true``, see :meth:`split_stream`); None: the task reads into memory.
    """

    name: str
    shape: str
    description: str
    config_class: type
    presets: dict[str, dict]
    load_examples: Callable[[Any, str | None], Examples]
    inputs: Callable[[Any], dict[str, Input]]
    output: Callable[[Any], Output]
    build_model: Callable[[Any, Features], Any]
    split: str = "group"
    stream_examples: Callable[[Any, str], Iterable[Examples]] | None = None

    def features(self, cfg: Any) -> Features:
        """Unfitted inputs and output for ``cfg``; ``.fit(train)`` or ``.load(run_dir)`` them."""
        return Features(cfg, self.inputs(cfg), self.output(cfg))

    def load_config(self, path: Path) -> Any:
        """A run's saved config. Runs saved before ``split`` existed (0.1) were split at
        random (a language model's text in order): they keep that split, so ``evaluate``
        scores the same test examples the run held out."""
        from rnn_apps.config import config_from_dict, read_config_file

        values = read_config_file(path)
        if isinstance(values, dict) and "split" not in values and self.split != "ordered" and \
                "split" in getattr(self.config_class, "__dataclass_fields__", {}):
            values = {**values, "split": "random"}
        return config_from_dict(self.config_class, values, origin=str(path))

    def split_examples(self, examples: Examples, cfg: Any, val: Examples | None = None,
                       test: Examples | None = None) -> "Splits":
        """train/val/test parts of ``examples`` as ``cfg.split`` asks (``auto``: the task's
        ``split``), so that nothing of a held-out example is seen in training.

        ``val`` / ``test``: the user's own held-out examples (``--val-data``/``--test-data``),
        used as they are; ``examples`` then only give the parts not supplied. The returned
        ``Splits.note`` says how the split was made and how many held-out examples also
        occur in training (possible only with files a user supplied).
        """
        mode = getattr(cfg, "split", "auto")
        mode = self.split if mode == "auto" else mode
        first = next(iter(self.inputs(cfg)))
        keys = [text_key(v) for v in examples[first]]
        groups, held_out_ok, note = keys, None, ""
        if mode == "contained":
            if not all(isinstance(v, (str, bytes)) for v in examples[first]):
                raise UserError(f"split: contained groups texts by the phrases they contain; {self.name}'s first "
                                f"input ({first}) is not text: use split group or random")
            groups, whole = containment_groups(examples[first])
            phrases = len(whole) - sum(whole)
            if phrases >= 0.1 * len(whole) or getattr(cfg, "split", "auto") == "contained":
                held_out_ok = whole
                note = (f"split by sentence: {phrases:,} of {len(whole):,} texts are phrases of longer texts and "
                        f"stay with them; val/test hold whole texts only")
            else:
                groups = keys
            mode = "group"
        if mode == "group" and not note:
            copies = len(keys) - len(set(keys))
            plural = first if first.endswith("s") else f"{first}s"  # texts, tokens
            note = f"split by {first}: {copies:,} repeated {plural} stay in one part" if copies else ""
        fractions = (0.0 if val is not None else cfg.val_fraction, 0.0 if test is not None else cfg.test_fraction)
        parts = split_examples(examples, *fractions, cfg.seed, order=mode,
                               groups=groups if mode == "group" else None, held_out_ok=held_out_ok)
        for name, given in (("val", val), ("test", test)):
            if given is None:
                continue
            parts[name] = given
            seen = set(text_key(v) for v in parts["train"][first])
            overlap = sum(text_key(v) in seen for v in given[first])
            if overlap:
                note += f"{'; ' if note else ''}warning: {overlap:,} of {len(given):,} {name} examples also occur " \
                        f"in the training data"
        return Splits(parts, note)

    def split_stream(self, source: str, cfg: Any, val: Examples | None = None,
                     test: Examples | None = None) -> "Splits":
        """``split_examples`` for a source read as a stream (``streaming: true``): train is an
        ``ExampleStream``, val and test at most ``stream_held_out`` examples each (or the
        user's own files). Parts come from a hash of the first input (``group``: copies of a
        text stay together) or of the row's line (``random``); phrases cannot be matched to
        their sentences without the whole file, so the ``contained`` default groups copies
        only (and says so), and an explicit ``split: contained`` is refused."""
        from rnn_apps.data.streaming import row_lines, scan

        if self.stream_examples is None:
            raise NotStreamed(f"streaming: {self.name} reads its data into memory")
        mode = getattr(cfg, "split", "auto")
        mode = self.split if mode == "auto" else mode
        if mode == "ordered":
            raise UserError("streaming: split ordered needs the file's length first; use split group or random")
        if getattr(cfg, "split", "auto") == "contained":
            raise UserError("streaming: split contained matches phrases to their sentences across the whole file, "
                            "which a stream cannot hold; use split group (copies stay together) or stream off")
        first, output = next(iter(self.inputs(cfg))), self.output(cfg)

        def keys(part: Examples) -> list:
            """What the split hashes: the row's line (``random``; not the path, which may be spelled
            differently when the run is resumed or evaluated) or its first input's text."""
            if mode == "random":
                return [f"line {line}" for line in row_lines(part)]
            return [text_key(v if isinstance(v, (str, bytes, int, float)) else as_text(v)) for v in part[first]]

        fractions = (0.0 if val is not None else cfg.val_fraction, 0.0 if test is not None else cfg.test_fraction)
        stream, val_part, test_part = scan(lambda: self.stream_examples(cfg, source), keys,
                                           val_fraction=fractions[0], test_fraction=fractions[1], seed=cfg.seed,
                                           sample_size=cfg.stream_sample, held_out_max=cfg.stream_held_out,
                                           label=output.name if output.kind == "label" else None,
                                           description=source)
        note = (f"streamed: {len(stream):,} training examples read from the file each epoch (vocabularies fitted on "
                f"a sample of {len(stream.sample):,}); held-out parts by a hash of the "
                f"{'row' if mode == 'random' else first}, at most {cfg.stream_held_out:,} each"
                f"{'; phrases are not matched to their sentences when streaming (copies are)' if mode == 'contained' else ''}")
        return Splits({"train": stream, "val": val if val is not None else val_part,
                       "test": test if test is not None else test_part}, note)


class NotStreamed(UserError):
    """``streaming: true`` for a task without ``stream_examples``. The machinery cannot name the
    tasks that do stream (it does not import the registry); ``rnn_apps.api.train`` adds them."""


class Splits(dict):
    """``{"train", "val", "test"}`` examples, with ``note``: how they were made (or "")."""

    def __init__(self, parts: dict, note: str = ""):
        super().__init__(parts)
        self.note = note
