"""Data larger than memory (``rnn_apps.data.streaming``): a file read as a stream is split
by hashing, sampled for fitting, re-read chunk by chunk, sharded per worker, and trains
as well as the same file read into memory."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rnn_apps.data.examples import hash_fractions, hash_parts
from rnn_apps.data.readers import iter_source, read_source
from rnn_apps.data.streaming import scan
from rnn_apps.errors import UserError
from tests.conftest import QUIET

WANTED = {"text": "auto", "label": "auto"}
ALIASES = {"text": ("text",), "label": ("label",)}


def write_reviews(path: Path, n: int, rare_label_at: int | None = None, copies: int = 0) -> Path:
    """``n`` rows ``text<TAB>label`` (every text distinct, ``copies`` of them repeated at the end)."""
    rows = [(f"review number {i} says {'good' if i % 2 else 'bad'} things", "pos" if i % 2 else "neg")
            for i in range(n)]
    if rare_label_at is not None:
        rows[rare_label_at] = (rows[rare_label_at][0], "mixed")
    rows += rows[:copies]
    path.write_text("text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in rows))
    return path


def scanned(path: Path, chunk: int = 97, **kwargs):
    settings = {"val_fraction": 0.1, "test_fraction": 0.1, "seed": 7, "sample_size": 50, "held_out_max": 10_000,
                **kwargs}
    return scan(lambda: iter_source(str(path), WANTED, ALIASES, chunk=chunk), lambda part: part["text"], **settings)


def test_hash_parts_are_deterministic_keyed_by_seed_and_near_the_fractions():
    keys = [f"text {i}" for i in range(20_000)]
    parts = hash_parts(keys, 0.1, 0.2, seed=3)
    assert (parts == hash_parts(keys, 0.1, 0.2, seed=3)).all()
    shares = Counter(parts.tolist())
    assert abs(shares["test"] / 20_000 - 0.2) < 0.015 and abs(shares["val"] / 20_000 - 0.1) < 0.015
    assert (parts != hash_parts(keys, 0.1, 0.2, seed=4)).mean() > 0.2  # another seed, another split
    u = hash_fractions(keys, 3)
    assert ((u >= 0) & (u < 1)).all() and abs(u.mean() - 0.5) < 0.01


def test_iter_source_chunks_join_to_what_read_source_reads(tmp_path):
    path = write_reviews(tmp_path / "r.tsv", 250)
    chunks = list(iter_source(str(path), WANTED, ALIASES, chunk=60))
    assert [len(c) for c in chunks] == [60, 60, 60, 60, 10]
    whole = read_source(str(path), WANTED, ALIASES)
    assert [t for c in chunks for t in c["text"]] == whole["text"]
    assert [o for c in chunks for o in c.origins] == whole.origins and whole.origins[0].endswith("r.tsv:2")


def test_the_stream_gives_every_training_row_once_and_holds_out_the_rest(tmp_path):
    path = write_reviews(tmp_path / "r.tsv", 1000, copies=200)
    stream, val, test = scanned(path)
    rows = read_source(str(path), WANTED, ALIASES)
    parts = hash_parts(rows["text"], 0.1, 0.1, 7)
    trained = [o for chunk in stream.chunks() for o in chunk.origins]
    assert trained == [o for o, p in zip(rows.origins, parts) if p == "train"] and len(stream) == len(trained)
    assert val.origins == [o for o, p in zip(rows.origins, parts) if p == "val"]
    assert test.origins == [o for o, p in zip(rows.origins, parts) if p == "test"]
    seen = {t for chunk in stream.chunks() for t in chunk["text"]}
    assert not seen & set(val["text"]) and not seen & set(test["text"])  # copies never straddle the parts
    assert list(stream.chunks())[0].origins == trained[:len(list(stream.chunks())[0])]  # re-readable


def test_held_out_parts_are_capped_samples_and_the_rest_is_not_trained_on(tmp_path):
    path = write_reviews(tmp_path / "r.tsv", 2000)
    stream, val, test = scanned(path, held_out_max=20)
    assert len(val) == len(test) == 20
    full_stream, full_val, full_test = scanned(path)
    assert set(val.origins) < set(full_val.origins) and set(test.origins) < set(full_test.origins)
    assert len(stream) == len(full_stream)  # the held-out rows not kept are not trained on either
    lines = [int(o.rsplit(":", 1)[1]) for o in val.origins]
    assert val.origins == sorted(val.origins, key=lambda o: int(o.rsplit(":", 1)[1]))  # file order
    assert max(lines) > 1000  # a sample of the whole part, not its start (a file sorted by label stays balanced)


def test_a_random_streamed_split_does_not_depend_on_how_the_path_is_spelled(tmp_path, monkeypatch):
    """``split: random`` hashes the line, not ``path:line``: a resumed or evaluated run (whose
    path is stored absolute) and a worker elsewhere get the same parts."""
    import dataclasses

    from rnn_apps.models import get_task

    task = get_task("sentiment")
    write_reviews(tmp_path / "r.tsv", 600)
    monkeypatch.chdir(tmp_path)
    cfg = dataclasses.replace(task.config_class(), split="random", streaming=True)
    relative, absolute = (task.split_stream(path, cfg) for path in ("r.tsv", str(tmp_path / "r.tsv")))
    strip = lambda part: [o.rsplit(":", 1)[1] for o in part.origins]  # noqa: E731
    assert strip(relative["test"]) == strip(absolute["test"]) and len(relative["test"]) > 30
    assert len(relative["train"]) == len(absolute["train"])
    assert strip(relative["train"].sample) == strip(absolute["train"].sample)
    capped = dataclasses.replace(cfg, stream_held_out=10)  # the held-out samples too
    assert strip(task.split_stream("r.tsv", capped)["val"]) == strip(task.split_stream(str(tmp_path / "r.tsv"),
                                                                                         capped)["val"])


def test_the_sample_is_uniform_bounded_the_same_for_any_chunking_and_has_every_label(tmp_path):
    path = write_reviews(tmp_path / "r.tsv", 3000, rare_label_at=2500)
    stream, _, _ = scanned(path, sample_size=50, label="label")
    other, _, _ = scanned(path, chunk=1000, sample_size=50, label="label")
    assert stream.sample.origins == other.sample.origins  # bottom-k by hash: chunking does not matter
    assert len(stream.sample) == 51 and "mixed" in stream.sample["label"]  # 50 + the rare label's row
    lines = [int(o.rsplit(":", 1)[1]) for o in stream.sample.origins[:50]]
    assert np.mean(lines) == pytest.approx(1500, rel=0.25)  # from the whole file, not its start
    trained = {o for chunk in stream.chunks() for o in chunk.origins}
    assert set(stream.sample.origins) <= trained


def test_workers_share_the_training_rows_without_overlap(tmp_path):
    stream, _, _ = scanned(write_reviews(tmp_path / "r.tsv", 1000))
    shards = [[o for chunk in stream.sharded(k, 3).chunks() for o in chunk.origins] for k in range(3)]
    everything = [o for chunk in stream.chunks() for o in chunk.origins]
    assert sorted(sum(shards, [])) == sorted(everything)
    assert all(abs(len(s) - len(everything) / 3) <= 1 for s in shards)


def test_a_bad_row_anywhere_is_found_before_training(tmp_path):
    path = write_reviews(tmp_path / "r.tsv", 500)
    lines = path.read_text().splitlines()
    lines[450] = "a row without its label"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"r\.tsv:451: expected at least 2 tab-separated columns"):
        scanned(path)


def train(tmp_path, data, *overrides, task="sentiment", run="run", **kwargs):
    import rnn_apps

    return rnn_apps.train(task, data=str(data), preset="small", overrides=overrides, run_dir=tmp_path / run,
                          console=QUIET, **kwargs)


def test_streaming_mistakes_are_user_errors_and_write_nothing(tmp_path):
    import rnn_apps

    with pytest.raises(UserError, match="streaming reads a file"):
        rnn_apps.train("sentiment", preset="tiny", overrides=["streaming=true"], run_dir=tmp_path / "a",
                       console=QUIET)
    with pytest.raises(UserError, match="tasks that read files as a stream are sentiment, translate"):
        rnn_apps.train("textgen", data=str(write_reviews(tmp_path / "t.txt", 50)), preset="tiny",
                       overrides=["streaming=true"], run_dir=tmp_path / "b", console=QUIET)
    with pytest.raises(UserError, match="split ordered"):
        train(tmp_path, write_reviews(tmp_path / "r.tsv", 200), "streaming=true", "split=ordered", run="c")
    with pytest.raises(UserError, match="split contained matches phrases"):
        train(tmp_path, tmp_path / "r.tsv", "streaming=true", "split=contained", run="d")
    with pytest.raises(UserError, match="streaming reads .tsv, .csv and .jsonl files"):
        train(tmp_path, "tfds:imdb_reviews", "streaming=true", run="e")
    assert not any((tmp_path / name).exists() for name in "abcde")


@pytest.mark.slow
def test_a_streamed_file_trains_as_well_as_the_same_file_in_memory(tmp_path):
    """Built-in reviews written to a file: the streamed run (vocabulary from a sample of a
    third of the rows) reaches the in-memory run's test accuracy within 0.04."""
    from rnn_apps.models.sentiment import generate_reviews

    reviews = generate_reviews(6000, 3)
    data = tmp_path / "reviews.tsv"
    data.write_text("".join(f"{t}\t{label}\n" for t, label in zip(reviews["text"], reviews["label"])))
    accuracy = {}
    for streaming in ("false", "true"):
        run = train(tmp_path, data, f"streaming={streaming}", "stream_sample=2000", "shuffle_buffer=1000",
                    run=streaming, epochs=6)
        accuracy[streaming] = json.loads((run / "metrics.json").read_text())["test"]["accuracy"]
    assert accuracy["false"] > 0.85
    assert accuracy["true"] > accuracy["false"] - 0.04, accuracy
    config = (tmp_path / "true" / "config.yaml").read_text()
    assert "streaming: true" in config


@pytest.mark.slow
def test_a_streamed_translation_run_learns_and_resumes(tmp_path):
    """A streamed translate run learns (loss falls) and ``--resume`` continues it on the same split."""
    import rnn_apps
    from rnn_apps.models.translate import generate_pairs

    pairs = generate_pairs(1200, 5)
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in zip(pairs["source"], pairs["target"])))
    run = rnn_apps.train("translate", data=str(data), preset="tiny", overrides=["streaming=true"], epochs=2,
                         run_dir=tmp_path / "run", console=QUIET)
    first = json.loads((run / "history.json").read_text())
    rnn_apps.train("translate", resume=run, epochs=3, console=QUIET)
    history = json.loads((run / "history.json").read_text())
    assert len(history["loss"]) == 3 and history["loss"][:2] == first["loss"]
    assert history["loss"][2] < history["loss"][0]
    test = json.loads((run / "metrics.json").read_text())["test"]
    assert test["examples"] > 50


@pytest.mark.parametrize("streaming", [False, True])
def test_a_held_out_file_that_is_the_training_file_warns_streamed_or_not(tmp_path, monkeypatch, streaming):
    """``val_data`` naming the training file (spelled another way) is a warning in the split's
    note whether the data are streamed or read whole; so is a part too small to exist."""
    import dataclasses

    from rnn_apps.models import get_task
    from rnn_apps.training.loop import load_splits

    task = get_task("sentiment")
    write_reviews(tmp_path / "r.tsv", 200)
    monkeypatch.chdir(tmp_path)
    cfg = dataclasses.replace(task.config_class(), streaming=streaming, val_data=str(tmp_path / "r.tsv"))
    note = load_splits(task, cfg, "r.tsv").note
    assert f"warning: val_data {tmp_path / 'r.tsv'} is the training file itself" in note
    (tmp_path / "few.tsv").write_text("sentence\tlabel\ngood\tpositive\nbad\tnegative\n")
    note = load_splits(task, dataclasses.replace(cfg, val_data=""), "few.tsv").note
    assert "training examples are too few to hold any out" in note  # which part is empty: the hash decides
