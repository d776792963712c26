import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_apps.metrics import classification_report


def test_report_matches_hand_computed_values():
    # true: a a a b b c ; predicted: a a b b c c
    y_true = [0, 0, 0, 1, 1, 2]
    probs = np.eye(3)[[0, 0, 1, 1, 2, 2]] * 0.8 + 0.2 / 3
    report = classification_report(y_true, probs, ["a", "b", "c"])
    assert report["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report["accuracy"] == pytest.approx(4 / 6)
    a, b, c = report["per_class"]
    assert (a["precision"], a["recall"]) == (pytest.approx(1.0), pytest.approx(2 / 3))
    assert (b["precision"], b["recall"]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert (c["precision"], c["recall"], c["f1"]) == (pytest.approx(0.5), pytest.approx(1.0), pytest.approx(2 / 3))
    assert report["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert [r["support"] for r in report["per_class"]] == [3, 2, 1]


def test_loss_matches_keras_cross_entropy():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50).astype("float32")
    y = rng.integers(0, 4, size=50)
    expected = float(keras.losses.SparseCategoricalCrossentropy()(y, probs))
    assert classification_report(y, probs, list("abcd"))["loss"] == pytest.approx(expected, rel=1e-5)


def test_class_never_predicted_has_zero_precision_not_nan():
    report = classification_report([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]), ["n", "p"])
    assert report["per_class"][1]["precision"] == 0.0 and report["per_class"][1]["f1"] == 0.0


def test_segments_and_edit_score_count_segments_not_frames():
    from rnn_apps.metrics import edit_score, segments

    assert segments([0, 0, 1, 1, 1, 0]) == [(0, 0, 2), (1, 2, 5), (0, 5, 6)]
    assert edit_score([0, 0, 1, 1], [0, 1, 1, 1]) == 100.0  # same segments, other boundaries
    assert edit_score([0, 1, 0, 1], [0, 0, 1, 1]) == pytest.approx(50.0)  # 4 segments vs 2: 2 edits of 4
    assert edit_score([2, 2, 2], [0, 0, 0]) == 0.0


def test_f1_at_overlap_matches_each_true_segment_once():
    from rnn_apps.metrics import segment_matches, segmentation_report

    true = [0, 0, 0, 0, 1, 1, 1, 1]
    assert segment_matches([0, 0, 0, 1, 1, 1, 1, 1], true, 0.5) == (2, 0, 0)  # IoU 3/4 and 4/5
    assert segment_matches([0, 1, 1, 1, 1, 1, 1, 1], true, 0.5) == (1, 1, 1)  # [0] IoU 1/4: a miss
    assert segment_matches([0, 0, 1, 0, 0, 1, 1, 1], true, 0.5) == (2, 2, 0)  # a flicker: two false segments
    report = segmentation_report([[0, 0, 1, 1], [1, 1, 1]], [[0, 0, 1, 1], [0, 1, 1]], ["a", "b"])
    assert report["accuracy"] == pytest.approx(6 / 7) and report["frames"] == 7 and report["examples"] == 2
    assert report["clip_accuracy"] == 1.0 and report["edit"] == pytest.approx(75.0)
    assert report["f1@0.5"] == pytest.approx(100 * 2 * (3 / 3) * (3 / 4) / (3 / 3 + 3 / 4))


def test_sacrebleu_warnings_are_said_once_per_process(caplog):
    """Tokenized-looking text makes sacreBLEU warn on every corpus score; evaluate scores
    several, so each warning is let through once."""
    from sacrebleu.metrics import BLEU

    from rnn_apps.metrics import sacrebleu_warnings_once

    sacrebleu_warnings_once()
    sacrebleu_warnings_once()  # one filter, however often it is asked for
    hypotheses, references = ["the cat sat ."] * 120, [["the cat sat ."] * 120]
    with caplog.at_level("WARNING", logger="sacrebleu"):
        for _ in range(3):
            BLEU().corpus_score(hypotheses, references)
    detokenize = [r for r in caplog.records if "forgot to detokenize" in r.getMessage()]
    assert len(detokenize) == 1


def test_caption_diversity_matches_hand_counts():
    from rnn_apps.metrics import caption_diversity

    report = caption_diversity(["a red circle", "a red circle ", "a blue square", "a"])
    # texts: 3 distinct of 4; unigrams: a red circle a red circle a blue square a -> 10, distinct {a red circle
    # blue square} = 5; bigrams: (a red)(red circle) x2, (a blue)(blue square) -> 6, distinct 4
    assert report == {"captions": 4, "distinct_captions": 3, "distinct_ratio": 0.75, "distinct_1": 0.5,
                      "distinct_2": pytest.approx(4 / 6)}
    assert caption_diversity([]) == {"captions": 0, "distinct_captions": 0, "distinct_ratio": 0.0,
                                     "distinct_1": 0.0, "distinct_2": 0.0}
    assert caption_diversity(["A dog", "a dog"])["distinct_captions"] == 2  # case kept


# --- entities: conlleval's definition, checked against seqeval (its default mode is conlleval) ---

def test_entity_spans_by_hand():
    from rnn_apps.metrics import entity_spans

    assert entity_spans(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert entity_spans(["I-PER", "I-PER", "B-PER", "O"]) == [("PER", 0, 2), ("PER", 2, 3)]  # IOB1
    assert entity_spans(["O", "I-LOC", "I-ORG"]) == [("LOC", 1, 2), ("ORG", 2, 3)]  # a type change ends one
    assert entity_spans(["S-PER", "B-LOC", "E-LOC", "S-LOC"]) == [("PER", 0, 1), ("LOC", 1, 3), ("LOC", 3, 4)]
    assert entity_spans([]) == [] and entity_spans(["O", "O"]) == []


TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-ORG", "I-ORG"]


@pytest.mark.filterwarnings("ignore")  # seqeval: "precision is ill-defined" when nothing was guessed
@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(TAGS), st.sampled_from(TAGS)), min_size=1, max_size=12),
                min_size=1, max_size=6))
def test_entity_report_matches_seqeval(sentences):
    """Random (guess, gold) tag sequences, malformed ones included (I- after O, E- without B-):
    micro and per-type P/R/F1 equal seqeval's conlleval-compatible scores."""
    seqeval = pytest.importorskip("seqeval.metrics")
    from seqeval.metrics.sequence_labeling import get_entities

    from rnn_apps.metrics import entity_report, entity_spans

    guess = [[g for g, _ in s] for s in sentences]
    gold = [[t for _, t in s] for s in sentences]
    for tags in guess + gold:
        assert [(k, s, e + 1) for k, s, e in get_entities(tags)] == entity_spans(tags), tags
    report = entity_report(guess, gold)
    assert report["precision"] == pytest.approx(seqeval.precision_score(gold, guess))
    assert report["recall"] == pytest.approx(seqeval.recall_score(gold, guess))
    assert report["f1"] == pytest.approx(seqeval.f1_score(gold, guess))
    per_type = seqeval.classification_report(gold, guess, output_dict=True, zero_division=0)
    for kind, scores in report["by_type"].items():
        if scores["support"]:
            assert scores["f1"] == pytest.approx(per_type[kind]["f1-score"])
            assert scores["recall"] == pytest.approx(per_type[kind]["recall"])
