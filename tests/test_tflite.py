"""The TFLite exporter: builtin ops only, a named error for anything else, quantization modes."""
import json

import numpy as np
import pytest
import tensorflow as tf

import rnn_apps
from rnn_apps.errors import UserError
from rnn_apps.exporters.tflite import convert, op_names


def saved_function(tmp_path, function, spec):
    module = tf.Module()
    module.f = tf.function(function, input_signature=[spec])
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"f": module.f})
    return tmp_path / "sm"


def test_a_model_that_needs_a_tensorflow_op_is_refused_naming_it(tmp_path):
    path = saved_function(tmp_path, lambda x: {"n": tf.strings.length(x)}, tf.TensorSpec([1], tf.string))
    with pytest.raises(UserError, match=r"not TFLite builtins: tf\.StringLength"):
        convert(path, ["f"])


def test_builtin_ops_are_listed_from_every_subgraph(tmp_path):
    def loop(x):
        return {"y": tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.tanh(v)), (0, x))[1]}

    model = convert(saved_function(tmp_path, loop, tf.TensorSpec([1, 4], tf.float32)), ["f"])
    ops = op_names(model)
    assert "WHILE" in ops and "TANH" in ops  # TANH lives in the loop body's subgraph
    with pytest.raises(UserError, match="unknown quantization 'int4'"):
        convert(tmp_path / "sm", ["f"], "int4")


def test_manifest_describes_signatures_tokenization_and_files(sentiment_tflite, sentiment_run):
    manifest = json.loads((sentiment_tflite / "manifest.json").read_text())
    assert manifest["task"] == "sentiment" and manifest["quantization"] == "none"
    spec = manifest["signatures"]["classify"]
    assert spec["inputs"] == {"text_ids": {"shape": [1, 100], "dtype": "int32"}}
    assert spec["outputs"] == {"probabilities": {"shape": [1, 2], "dtype": "float32"}}  # one per label
    text = manifest["inputs"]["text"]
    assert (text["tokenizer"], text["level"], text["vocabulary"], text["static_length"]) == \
        ("vectorizer", "word", "vocab.json", 100)
    assert manifest["output"]["labels"] == ["negative", "positive"]
    assert set(manifest["files"]) == {"model.tflite", "vocab.json", "labels.json"}


def test_seq_len_sets_the_static_length_and_padding_does_not_change_the_result(sentiment_run, tmp_path):
    out = rnn_apps.export(sentiment_run, format="tflite", seq_len=12, out=tmp_path / "short")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["signatures"]["classify"]["inputs"]["text_ids"]["shape"] == [1, 12]
    texts = ["not bad", "a dull story but great acting"]
    short, long_ = rnn_apps.predict(out, texts), rnn_apps.predict(sentiment_run, texts)
    np.testing.assert_allclose([r["probability"] for r in short], [r["probability"] for r in long_], atol=1e-5)


def test_export_options_are_checked_per_format(sentiment_run, tmp_path):
    with pytest.raises(UserError, match="--quantize: not an option of the savedmodel format"):
        rnn_apps.export(sentiment_run, format="savedmodel", quantize="dynamic", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()
