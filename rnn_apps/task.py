"""What a task is: the record each ``models/<task>.py`` ends with.

The training loop, the CLI and the exporter only ever talk to a task through this
record, so adding a task means writing one module that fills it in and adding one line
to ``models/__init__.py``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Protocol

from rnn_apps.readers import Examples, split_examples


class Preprocessing(Protocol):
    """Everything fitted on the training split (vocabularies, label sets), saved with the run."""

    def save(self, run_dir: Path) -> None: ...

    def dataset(self, cfg: Any, examples: Examples, training: bool) -> Any:
        """tf.data pipeline of (inputs, targets) batches; ``training`` shuffles/buckets."""

    # Keyword options ``predict``/``evaluate`` take beyond the required arguments (decoding
    # settings such as ``beam``); ``rnn_apps.api`` names these when a user passes others.
    predict_options: tuple[str, ...]
    evaluate_options: tuple[str, ...]

    def predict(self, model: Any, inputs: list[str], **options) -> list[dict]:
        """Raw user inputs -> one JSON-able result per input."""

    def evaluate(self, model: Any, cfg: Any, examples: Examples, **options) -> dict:
        """A report of metrics on labelled examples."""

    def serving_functions(self, model: Any) -> dict[str, Any]:
        """Named ``tf.function``s with input signatures for SavedModel export."""

    def trackables(self) -> list:
        """Objects besides the model (lookup tables) that the SavedModel must carry."""

    def callbacks(self, model: Any) -> list:
        """Extra Keras callbacks training needs (e.g. resetting carried states each epoch)."""


@dataclasses.dataclass(frozen=True)
class Task:
    """One application: its config, data, preprocessing, model and loss.

    Attributes:
        name: the CLI name (``rnn-apps train NAME``).
        shape: the problem shape from the notes (``many-to-one`` ...).
        description: one line for ``rnn-apps tasks``.
        config_class: the task's config dataclass (typed defaults).
        presets: named partial configs, e.g. ``{"tiny": {...}}`` for tests.
        load_examples: ``(cfg, source or None) -> Examples``; None = built-in generator.
        fit_preprocessing: ``(cfg, train Examples) -> Preprocessing``.
        load_preprocessing: ``(cfg, run_dir) -> Preprocessing``.
        build_model: ``(cfg, Preprocessing) -> keras.Model`` (not compiled).
        compile_args: ``(cfg, Preprocessing) -> {"loss": ..., "metrics": [...]}``.
        split: ``(Examples, cfg) -> {"train", "val", "test"}``; default a seeded shuffle
            (``readers.split_examples``). Text for a language model is split in order.
    """

    name: str
    shape: str
    description: str
    config_class: type
    presets: dict[str, dict]
    load_examples: Callable[[Any, str | None], Examples]
    fit_preprocessing: Callable[[Any, Examples], Preprocessing]
    load_preprocessing: Callable[[Any, Path], Preprocessing]
    build_model: Callable[[Any, Preprocessing], Any]
    compile_args: Callable[[Any, Preprocessing], dict]
    split: Callable[[Examples, Any], dict] | None = None

    def split_examples(self, examples: Examples, cfg: Any) -> dict[str, Examples]:
        """train/val/test parts of ``examples`` as the task's config asks."""
        if self.split is not None:
            return self.split(examples, cfg)
        return split_examples(examples, cfg.val_fraction, cfg.test_fraction, cfg.seed)
