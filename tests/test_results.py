"""The NumPy results functions that a run and its TFLite export both answer with."""
import json

import numpy as np

from rnn_apps.outputs.results import continuation_result, label_result, sequence_result, step_result


def test_sequence_result_keys_and_plain_values():
    greedy = sequence_result("source", "hello there", "translation", "bonjour", ["bon", "jour"],
                             np.array([5, 9], np.int32))
    assert greedy == {"source": "hello there", "translation": "bonjour", "tokens": ["bon", "jour"], "ids": [5, 9]}
    assert all(type(i) is int for i in greedy["ids"])  # JSON-ready, whatever integers came in
    beam = sequence_result("image", "array 2", "caption", "a dog", ("a", "dog"), [4, 7], np.float32(-1.5))
    assert list(beam) == ["image", "caption", "tokens", "ids", "log_probability"]
    assert beam["log_probability"] == -1.5 and type(beam["log_probability"]) is float and beam["tokens"] == ["a", "dog"]
    sampled = sequence_result("source", "x", "translation", "", [], [], seed=7)
    assert sampled == {"source": "x", "translation": "", "tokens": [], "ids": [], "seed": 7}
    json.dumps([greedy, beam, sampled])


def test_continuation_result_keys():
    assert continuation_result("ROSA:", " the key", 42) == {"prompt": "ROSA:", "text": " the key", "seed": 42}
    assert list(continuation_result("", "\n", 0)) == ["prompt", "text", "seed"]


def test_label_and_step_results_unchanged():
    result = label_result({"text": "good"}, ["negative", "positive"], np.array([0.25, 0.75]))
    assert result["label"] == "positive" and result["probability"] == 0.75
    assert result["top"][0] == {"label": "positive", "probability": 0.75}
    assert result["probabilities"] == {"negative": 0.25, "positive": 0.75}
    steps = step_result("text", "Ana runs", ["B-PER", "O"], np.array([0.9, 0.8]), ["Ana", "runs"])
    assert steps["entities"] == [{"type": "PER", "start": 0, "end": 0, "text": "Ana"}]
    assert steps["confidence"] == [0.9, 0.8] and steps["segments"][0] == {"label": "B-PER", "start": 0, "end": 0}
