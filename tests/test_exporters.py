import numpy as np
import pytest
import tensorflow as tf

import rnn_apps
from rnn_apps.errors import UserError

TEXTS = ["the plot was not boring", "a dull story but great acting", "", "zzz unknown words !!"]


def test_savedmodel_on_raw_strings_matches_predict(sentiment_run, tmp_path):
    out = rnn_apps.export(sentiment_run, out=tmp_path / "sm")
    served = tf.saved_model.load(str(out)).signatures["serving_default"](text=tf.constant(TEXTS))
    expected = rnn_apps.predict(sentiment_run, TEXTS)
    labels = [r["label"] for r in expected]
    probs = np.array([[r["probabilities"][k] for k in sorted(r["probabilities"])] for r in expected])
    np.testing.assert_allclose(served["probabilities"].numpy(), probs, atol=1e-6)
    assert [s.decode() for s in served["label"].numpy()] == labels


def test_export_never_overwrites(sentiment_run, tmp_path):
    (tmp_path / "sm").mkdir()
    with pytest.raises(UserError, match="already exists"):
        rnn_apps.export(sentiment_run, out=tmp_path / "sm")
    with pytest.raises(UserError, match="unknown export format .onnx.; formats: savedmodel, tflite"):
        rnn_apps.export(sentiment_run, format="onnx", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_the_parity_check_reports_differences():
    from rnn_apps.exporters.check import compare_outputs

    same = {"probabilities": np.array([[0.2, 0.8]], np.float32), "label": np.array([b"pos"])}
    close = {"probabilities": np.array([[0.2, 0.8000004]], np.float32), "label": np.array([b"pos"])}
    off = {"probabilities": np.array([[0.5, 0.5]], np.float32), "label": np.array([b"neg"])}
    good = compare_outputs("serving_default", [(same, close)])
    assert good.identical and 0 < good.max_abs_diff < 1e-6 and good.within(1e-5)
    bad = compare_outputs("serving_default", [(same, close), (same, off)])
    assert not bad.identical and bad.mismatches == ["label"] and bad.max_abs_diff == pytest.approx(0.3)
    assert not bad.within(1.0)


def test_an_absurd_static_length_is_refused_before_any_work(tmp_path):
    """``seq_len`` is bounded in the API too (the CLI's range is the same): the converter would
    allocate it (std::bad_alloc at 10**9), and nothing is written."""
    from rnn_apps.errors import UserError
    from rnn_apps.exporters import MAX_SEQ_LEN, export

    with pytest.raises(UserError, match=f"--seq-len must be between 1 and {MAX_SEQ_LEN:,}, got 1,000,000,000"):
        export(object(), "tflite", tmp_path / "out", seq_len=10 ** 9)
    assert not (tmp_path / "out").exists()


def test_option_bounds_hold_in_the_python_api_too():
    from rnn_apps.errors import UserError
    from rnn_apps.options import checked_values

    with pytest.raises(UserError, match="--beam must be at most 256, got 100,000"):
        checked_values({"beam": 100_000})
    with pytest.raises(UserError, match="--top-p must be > 0"):
        checked_values({"top_p": 0.0})
    assert checked_values({"beam": 4}) == {"beam": 4}
