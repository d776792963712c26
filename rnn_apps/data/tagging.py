"""Tagged sentences: one label per token, read from CoNLL column files, JSON lines or TFDS,
with their tag scheme checked.

Every reader gives ``Examples({"tokens": [sentence], "tags": [[tag, ...]]})`` where a sentence
is its tokens joined by single spaces: the ``whitespace`` tokenizer splits it back into exactly
those tokens, so tags and tokens line up one to one (a token holding whitespace is refused).

* CoNLL: ``word ... tag`` per line (columns split on whitespace, the tag in ``tag_column``,
  by default the last), a blank line between sentences, ``-DOCSTART-`` lines skipped;
* JSON lines: ``{"tokens": [...], "tags": [...]}`` per sentence;
* ``tfds:conll2003`` (and other TFDS sets with a token sequence and a tag sequence).

Schemes: tags are ``O`` or ``PREFIX-TYPE`` with ``PREFIX`` one of ``B``, ``I`` (BIO, IOB1),
``E``, ``S`` (BIOES). An ``I-X`` that begins an entity (after ``O`` or another type) is how
IOB1 data (the original CoNLL-2003 files) marks entities, and a slip in BIO data; both mean an
entity starts there (CoNLL's conlleval reads it so), so it is **repaired** to ``B-X`` and the
count is said once. Any other tag is refused with its file and line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from rnn_apps.data.examples import Examples
from rnn_apps.data.readers import json_type, text_lines
from rnn_apps.errors import UserError
from rnn_apps.metrics import SCHEME_PREFIXES, split_tag


def read_tagged(source: str, tag_column: str = "-1", tfds_data_dir: str | None = None) -> Examples:
    """Tagged sentences from a CoNLL file, a ``.jsonl`` file or ``tfds:NAME[:SPLIT]``, scheme-checked."""
    if source.startswith("tfds:"):
        examples = read_tfds_tagged(source, tfds_data_dir)
    elif Path(source).suffix.lower() in (".jsonl", ".json"):
        examples = read_tagged_jsonl(Path(source))
    else:
        examples = read_conll(Path(source), tag_column)
    tags, repaired = repair_scheme(examples["tags"], examples.origins)
    if repaired:
        from rnn_apps.progress import note

        note(f"{source}: {repaired:,} I- tags began an entity (IOB1, or a slip in BIO) and were read as B- tags, "
             f"as CoNLL's conlleval reads them")
    return Examples({"tokens": examples["tokens"], "tags": tags}, examples.origins)


def read_conll(path: Path, tag_column: str = "-1") -> Examples:
    """Sentences of a CoNLL column file; the origin of a sentence is its first line."""
    column = _column_index(tag_column)
    sentences, tags, origins = [], [], []
    words: list[str] = []
    labels: list[str] = []
    start = 0
    for number, line in [*text_lines(path, nul_check=True), (None, "")]:
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if words:
                sentences.append(" ".join(words))
                tags.append(labels)
                origins.append(f"{path}:{start}")
            words, labels = [], []
            continue
        if not -len(fields) <= column < len(fields) or len(fields) < 2:
            raise UserError(f"{path}:{number}: {len(fields)} column(s) ({line.strip()[:60]!r}); a CoNLL line is "
                            f"'word ... tag' with the tag in column {tag_column} (--set tag_column=N, from 0; "
                            f"-1 = last)")
        if not words:
            start = number
        words.append(fields[0])
        labels.append(fields[column])
    if not sentences:
        raise UserError(f"{path}: no tagged sentences (a CoNLL file has 'word ... tag' lines, a blank line "
                        f"between sentences)")
    return Examples({"tokens": sentences, "tags": tags}, origins)


def _column_index(spec: str) -> int:
    try:
        return int(str(spec))
    except ValueError:
        raise UserError(f"tag_column must be a column number (from 0; -1 = last), got {spec!r}") from None


def read_tagged_jsonl(path: Path) -> Examples:
    """``{"tokens": [...], "tags": [...]}`` per line, the same number of each."""
    sentences, tags, origins = [], [], []
    for number, line in text_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise UserError(f"{where}: not valid JSON ({exc})") from None
        if not isinstance(record, dict) or "tokens" not in record or "tags" not in record:
            keys = ", ".join(record) if isinstance(record, dict) else json_type(record)
            raise UserError(f"{where}: needs keys tokens and tags (lists); found {keys}")
        sentences.append(joined_tokens(record["tokens"], where))
        row = record["tags"]
        if not isinstance(row, list) or not all(isinstance(t, (str, int)) and not isinstance(t, bool) for t in row):
            raise UserError(f"{where}: tags must be a list of tags (strings), got {json_type(row)}")
        if len(row) != len(record["tokens"]):
            raise UserError(f"{where}: {len(record['tokens'])} tokens but {len(row)} tags (one tag per token)")
        tags.append([str(t) for t in row])
        origins.append(where)
    if not sentences:
        raise UserError(f"{path}: no tagged sentences")
    return Examples({"tokens": sentences, "tags": tags}, origins)


def joined_tokens(tokens: Any, where: str) -> str:
    """A sentence's tokens as one string, single spaces between: each token must be non-empty
    text without whitespace, so the whitespace tokenizer gives the same tokens back."""
    if not isinstance(tokens, list) or not tokens:
        raise UserError(f"{where}: tokens must be a non-empty list of strings, got {json_type(tokens)}")
    for i, token in enumerate(tokens):
        if not isinstance(token, str) or not token or len(token.split()) != 1 or token.split()[0] != token:
            raise UserError(f"{where}: token {i + 1} ({token!r}) is empty or holds whitespace; tagging reads "
                            f"whitespace-separated tokens, one tag each")
    return " ".join(tokens)


def read_tfds_tagged(source: str, data_dir: str | None = None) -> Examples:
    """A TFDS set with a ``tokens`` sequence and a tag sequence (``ner`` for conll2003, else
    ``tags`` or ``pos``), tags as their names."""
    from rnn_apps.data.readers import tfds_builder

    import tensorflow_datasets as tfds

    builder, split = tfds_builder(source, data_dir)
    features = builder.info.features
    key = next((k for k in ("ner", "tags", "pos") if k in features), None)
    if "tokens" not in features or key is None:
        raise UserError(f"{source}: needs features tokens and ner (or tags, pos); it has {', '.join(features)}")
    names = getattr(features[key], "feature", None)
    sentences, tags, origins = [], [], []
    for i, record in enumerate(tfds.as_numpy(builder.as_dataset(split=split))):
        where = f"{source}#{i}"
        tokens = [t.decode("utf-8", errors="replace") if isinstance(t, bytes) else str(t) for t in record["tokens"]]
        if not tokens:
            continue
        sentences.append(joined_tokens(tokens, where))
        tags.append([names.int2str(int(t)) if hasattr(names, "int2str") else str(t) for t in record[key]])
        origins.append(where)
    if not sentences:
        raise UserError(f"{source}: the split is empty")
    return Examples({"tokens": sentences, "tags": tags}, origins)


def repair_scheme(rows: Sequence[Sequence[str]], origins: Sequence[str]) -> tuple[list[list[str]], int]:
    """Each sentence's tags checked (``O`` or ``B``/``I``/``E``/``S``-TYPE), an ``I-X`` that
    begins an entity made ``B-X``: ``(tags, how many were repaired)``. A tag of another form
    is a ``UserError`` naming the sentence and the token."""
    repaired, out = 0, []
    for row, origin in zip(rows, origins):
        fixed, previous = [], ("O", "")
        for i, tag in enumerate(row):
            prefix, kind = split_tag(tag)
            if tag != "O" and (prefix not in SCHEME_PREFIXES or not kind):
                raise UserError(f"{origin}: token {i + 1} has tag {tag!r}; tags are O or B-, I-, E-, S- and a type "
                                f"(BIO, IOB1 or BIOES: B-PER, I-LOC ...)")
            if prefix == "I" and (previous[0] in ("O", "E", "S") or previous[1] != kind):
                tag, prefix, repaired = f"B-{kind}", "B", repaired + 1
            fixed.append(tag)
            previous = (prefix, kind)
        out.append(fixed)
    return out, repaired
