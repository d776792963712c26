"""Honest splits (rnn_apps/data/examples.py and Task.split_examples): copies and phrases of
a held-out text never reach training; the user's own val/test files are used as given."""
import json

from hypothesis import given, settings, strategies as st

from conftest import QUIET

import rnn_apps
from rnn_apps.data.examples import Examples, containment_groups, split_examples, text_key
from models.sentiment import TASK, SentimentConfig


def contains(longer: str, shorter: str) -> bool:
    """The reference: ``shorter``'s words are a run of ``longer``'s words, and it is shorter."""
    a, b = text_key(longer).split(), text_key(shorter).split()
    return len(b) < len(a) and any(a[i:i + len(b)] == b for i in range(len(a) - len(b) + 1))


texts = st.lists(st.lists(st.sampled_from(["the", "film", "is", "not", "dull", "."]), min_size=0, max_size=7)
                 .map(" ".join), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(texts)
def test_containment_groups_match_a_brute_force_reference(values):
    groups, whole = containment_groups(values)
    for i, text in enumerate(values):
        containers = [j for j, other in enumerate(values) if contains(other, text)]
        assert whole[i] == (not containers or not text_key(text))
        if whole[i]:  # its own group, shared with its copies only
            assert groups[i] == min(j for j, v in enumerate(values) if text_key(v) == text_key(text))
        else:  # the group of the first whole text containing it
            firsts = [j for j in containers if whole[j] and groups[j] == j]
            assert groups[i] == min(firsts)


def test_text_key_ignores_case_spacing_and_unicode_form():
    assert text_key("The  film,\u00a0IS great") == text_key("the film , is great") == "the film , is great"
    assert text_key("caf\u00e9") == text_key("cafe\u0301")


def treebank(n_sentences: int = 60) -> Examples:
    """Sentences with their phrases as separate examples, as in SST-2."""
    rows = []
    for s in range(n_sentences):
        words = f"movie {s} was good and the cast {s} was fine".split()
        rows.append(" ".join(words))
        rows += [" ".join(words[:k]) for k in (2, 4, 6)] + [" ".join(words[3:]), "the cast"]  # one shared phrase
    return Examples({"text": rows, "label": ["positive"] * len(rows)}, [f"t:{i + 1}" for i in range(len(rows))])


def test_contained_split_keeps_phrases_with_their_sentence_and_holds_out_whole_texts():
    examples = treebank()
    parts = TASK.split_examples(examples, SentimentConfig(val_fraction=0.2, test_fraction=0.2))
    assert "split by sentence" in parts.note
    train = parts["train"]["text"]
    for name in ("val", "test"):
        held_out = parts[name]["text"]
        assert held_out and all(len(t.split()) == 10 for t in held_out)  # whole sentences only
        assert not [p for t in held_out for p in train if (contains(t, p) or p == t) and p != "the cast"]


def test_random_split_would_leak_the_phrases():
    examples = treebank()
    parts = split_examples(examples, 0.2, 0.2, seed=42)
    train = set(parts["train"]["text"])
    leaked = [t for t in parts["test"]["text"] if any(contains(t, p) for p in train)]
    assert leaked  # what the honest split prevents


def test_group_split_keeps_copies_together_and_auto_uses_it_without_phrases():
    rows = [f"review number {i % 30} ." for i in range(90)]  # every text three times, differently spaced
    rows = [r.replace(" ", "  ") if i % 2 else r.upper() for i, r in enumerate(rows)]
    examples = Examples({"text": rows, "label": ["a", "b"] * 45}, [f"f:{i}" for i in range(90)])
    parts = TASK.split_examples(examples, SentimentConfig())
    assert "60 repeated texts stay in one part" in parts.note
    keys = {name: {text_key(t) for t in parts[name]["text"]} for name in parts}
    assert keys["train"].isdisjoint(keys["val"] | keys["test"]) and keys["val"].isdisjoint(keys["test"])
    randomly = TASK.split_examples(examples, SentimentConfig(split="random"))
    assert {text_key(t) for t in randomly["train"]["text"]} & {text_key(t) for t in randomly["test"]["text"]}


def test_own_validation_and_test_files_are_used_as_given_and_overlap_is_reported(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\n" + "".join(f"a {'good' if i % 2 else 'dull'} film {i}\t"
                                               f"{'positive' if i % 2 else 'negative'}\n" for i in range(200)))
    val = tmp_path / "val.tsv"
    val.write_text("text\tlabel\na good film 1\tpositive\na dull film new\tnegative\n")
    test = tmp_path / "test.tsv"
    test.write_text("text\tlabel\na good one\tpositive\na dull one\tnegative\na good two\tpositive\n")
    run = rnn_apps.train("sentiment", data=str(train), preset="tiny", epochs=1, run_dir=tmp_path / "run",
                         overrides=[f"val_data={val}", f"test_data={test}"], console=QUIET)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val"]["examples"] == 2 and metrics["test"]["examples"] == 3
    loaded = rnn_apps.load(run)
    assert loaded.cfg.test_data == str(test.resolve())
    assert rnn_apps.evaluate(run)["examples"] == 3  # evaluate reads the same test file
    from rnn_apps.training.loop import load_splits
    parts = load_splits(loaded.task, loaded.cfg, str(train))
    assert len(parts["train"]) == 200 and "1 of 2 val examples also occur in the training data" in parts.note
