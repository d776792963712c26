"""The textgen task: carried state equals full context, TBPTT, learning, generation, export."""
import json
import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import tensorflow as tf
from harness import check_task, check_tflite
from conftest import QUIET, train_tiny

import rnn_apps
from rnn_apps.config import resolve_config
from rnn_apps.decoding.settings import Sampling
from rnn_apps.errors import UserError
from rnn_apps.outputs.language_model import ResetStates, joined_text
from rnn_apps.layers.recurrent import copy_weights
from rnn_apps.models.textgen import TextgenConfig, build_model, build_step_model, generate_plays
from rnn_apps.data.pipeline import stream_windows

STACKS = [{"cell": "gru"}, {"cell": "lstm", "layers": 2, "residual": True},
          {"cell": "vanilla", "layers": 2}, {"cell": "simple"}]


def config(**kw):
    return resolve_config(TextgenConfig, overrides=[f"{k}={v}" for k, v in
                                                     {"units": 8, "embedding_dim": 4, **kw}.items()])


@pytest.mark.parametrize("stack", STACKS, ids=lambda s: "-".join(map(str, s.values())))
def test_carried_state_steps_give_the_full_sequence_logits(stack):
    cfg = config(**stack)
    model = build_step_model(cfg, vocab_size=11)
    ids = tf.constant(np.random.default_rng(0).integers(2, 11, size=(3, 25)), tf.int32)
    zeros = [tf.zeros([3, cfg.units]) for _ in model.inputs[1:]]
    full = model([ids, *zeros])[0].numpy()
    logits, *states = model([ids[:, :10], *zeros])  # the prompt, once
    pieces = [logits.numpy()]
    for t in range(10, 25):  # then one token at a time
        logits, *states = model([ids[:, t:t + 1], *states])
        pieces.append(logits.numpy())
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, atol=1e-5)


@pytest.mark.parametrize("stack", STACKS[:2], ids=["gru", "lstm2"])
def test_truncated_bptt_windows_with_carried_state_equal_one_pass(stack):
    cfg = config(tbptt=6, batch_size=3, **stack)
    data = SimpleNamespace(inputs={"text": SimpleNamespace(vocab_size=13)})  # build_model only reads that
    stateful = build_model(cfg, data)
    step = copy_weights(stateful, build_step_model(cfg, 13))
    text = np.random.default_rng(1).integers(2, 13, size=3 * 30 + 1)
    x, _ = stream_windows(text, streams=3, window=6)  # [windows, streams, window]
    windowed = np.concatenate([stateful(tf.constant(w)).numpy() for w in x], axis=1)
    whole = np.concatenate(list(x), axis=1)  # each stream's text in one piece
    full = step([tf.constant(whole), *[tf.zeros([3, cfg.units]) for _ in step.inputs[1:]]])[0].numpy()
    np.testing.assert_allclose(windowed, full, atol=1e-5)
    callback = ResetStates()
    callback.set_model(stateful)
    callback.on_epoch_begin(0)  # a new epoch starts from zero states again
    np.testing.assert_allclose(stateful(tf.constant(x[0])).numpy(), full[:, :6], atol=1e-5)


def test_stream_windows_are_contiguous_per_stream():
    ids = np.arange(103)
    x, y = stream_windows(ids, streams=4, window=5)
    assert x.shape == y.shape == (5, 4, 5)
    row = np.concatenate(list(x[:, 2]))  # stream 2 across windows
    np.testing.assert_array_equal(row, np.arange(50, 75))
    np.testing.assert_array_equal(y, x + 1)


def test_builtin_plays_have_the_promised_structure():
    lines = generate_plays(20000, seed=3)["text"]
    numbers = [int(line.split()[2]) for line in lines if line.startswith("== scene")]
    assert all(b == a + 1 or b == 1 for a, b in zip(numbers, numbers[1:]))
    for line in lines:
        assert line.count('"') % 2 == 0 and line.count("(") == line.count(")")
    questions = [i for i, line in enumerate(lines) if "where " in line]
    for i in questions:
        subject = lines[i].split("where ")[1].split(" ", 1)[1].rstrip("?")
        assert lines[i + 1].split(": ", 1)[1].startswith(subject)
    assert generate_plays(5000, seed=3)["text"] == generate_plays(5000, seed=3)["text"]


def unigram_bits(text):
    counts = np.array(list(Counter(text).values()), float)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


@pytest.mark.slow
def test_language_model_learns_the_builtin_plays(tmp_path):
    run = rnn_apps.train("textgen", preset="small", epochs=4, overrides=["builtin_chars=60000", "batch_size=16", "tbptt=50"],
                         run_dir=tmp_path / "r",
                         console=QUIET)
    val = json.loads((run / "metrics.json").read_text())["val"]
    cfg = TextgenConfig(builtin_chars=60000)
    text = joined_text(generate_plays(cfg.builtin_chars, cfg.seed))
    # Far below what character frequencies alone give (about 4.2 bits), so it uses context.
    assert val["bits_per_char"] < unigram_bits(text) - 2.0
    assert val["perplexity"] == pytest.approx(math.exp(val["nats_per_token"]))
    sample = rnn_apps.generate(run, "== scene 4 ==\n[", 200, temperature=0.5, seed=0)["samples"][0]
    speaker_lines = [line for line in sample.split("\n")[1:] if ": " in line]
    assert speaker_lines and all(line.split(": ")[0].isupper() for line in speaker_lines)


def test_generate_options_and_streaming(textgen_run):
    greedy = rnn_apps.generate(textgen_run, "ROSA: ", 40, greedy=True)["samples"][0]
    cold = rnn_apps.generate(textgen_run, "ROSA: ", 40, temperature=1e-4, seed=5)["samples"][0]
    assert greedy == cold
    a = rnn_apps.generate(textgen_run, "", 60, seed=7, top_p=0.9, top_k=10, num_samples=3)
    b = rnn_apps.generate(textgen_run, "", 60, seed=7, top_p=0.9, top_k=10, num_samples=3)
    assert a["samples"] == b["samples"] and len(set(a["samples"])) == 3
    chunks = list(rnn_apps.generate(textgen_run, "", 60, seed=7, top_p=0.9, top_k=10, num_samples=3, stream=True))
    assert len(chunks) == 2 and ["".join(parts) for parts in zip(*chunks)] == a["samples"]
    assert all(len(s) == 60 for s in a["samples"])  # char level: one character per token
    with pytest.raises(UserError, match="top-p must be at most 1, got 2.0"):
        rnn_apps.generate(textgen_run, "", 5, top_p=2.0)


def test_evaluate_and_predict(textgen_run, tmp_path):
    report = rnn_apps.evaluate(textgen_run)
    assert report["data"].endswith("(val split)") and report["bits_per_char"] == report["bits_per_token"]
    text = tmp_path / "t.txt"
    text.write_text("ROSA: the old key falls.\n" * 50)
    assert rnn_apps.evaluate(textgen_run, data=str(text))["tokens"] > 1000
    results = rnn_apps.predict(textgen_run, ["ROSA:", ""])
    assert [r["prompt"] for r in results] == ["ROSA:", ""] and all(len(r["text"]) == 200 for r in results)


def test_export_generate_and_step_signatures(textgen_run, tmp_path):
    out = rnn_apps.export(textgen_run, out=tmp_path / "sm")
    loaded = tf.saved_model.load(str(out))
    served = loaded.signatures["generate"](prompt=tf.constant("ROSA: "), length=tf.constant(50),
                                           temperature=tf.constant(0.0), seed=tf.constant(0, tf.int64))
    expected = rnn_apps.generate(textgen_run, "ROSA: ", 50, greedy=True)["samples"][0]
    assert served["text"].numpy().decode() == expected
    sampled = loaded.signatures["generate"](prompt=tf.constant(""), length=tf.constant(30),
                                            temperature=tf.constant(1.0), seed=tf.constant(3, tf.int64))
    assert len(sampled["text"].numpy().decode()) == 30

    step = loaded.signatures["step"]
    spec = step.structured_input_signature[1]
    assert spec["token"].shape == (1, 1) and spec["h_1"].shape == (1, 32)
    run = rnn_apps.load_run(textgen_run)
    ids = run.output.vocab.encode("ROSA: where")
    state = {"h_1": tf.zeros([1, 32])}
    for token in ids:
        result = step(token=tf.constant([[token]], tf.int32), **state)
        state = {"h_1": result["h_1"]}
    twin = run.output.step_model(run.model)
    full = twin([tf.constant(ids[None, :]), tf.zeros([1, 32])])[0][0, -1].numpy()
    np.testing.assert_allclose(result["logits"].numpy()[0], full, atol=1e-5)


def test_the_steps_signature_runs_blocks_of_the_one_step_loop(textgen_run):
    from rnn_apps.lite.decoding import choose_rows
    from rnn_apps.outputs.language_model import BANNED, STEPS_PER_CALL

    run = rnn_apps.load_run(textgen_run)
    steps = run.output.signatures(run.model, run.features)["steps"].function
    prompt = run.output.prompt_ids("ROSA: ", 1)
    greedy = run.output.generator(run.model).generate(prompt, STEPS_PER_CALL + 1, Sampling(greedy=True))[0]
    twin = run.output.step_model(run.model, batch_size=1)
    _, state = twin([tf.constant(prompt), tf.zeros([1, 32])])  # the prompt read; its greedy next token not yet
    uniforms = np.random.default_rng(0).random((1, STEPS_PER_CALL)).astype(np.float32)

    def block(temperature, top_k=0, top_p=1.0):
        out = steps(tf.constant([[greedy[0]]], tf.int32), state, tf.constant(uniforms), tf.constant([temperature]),
                    tf.constant([top_k]), tf.constant([top_p]))
        return {k: v.numpy() for k, v in out.items()}

    out = block(0.0)
    assert out["tokens"].shape == (1, STEPS_PER_CALL) and out["logits"].shape == (1, STEPS_PER_CALL, run.output.vocab.size)
    assert out["tokens"][0].tolist() == greedy[1:].tolist()
    read = np.concatenate([prompt, greedy[None, :-1]], axis=1)  # states after each step = the full pass's
    _, full = twin([tf.constant(read), tf.zeros([1, 32])])
    np.testing.assert_allclose(out["h_1"][0, -1], full.numpy()[0], atol=1e-5)
    for sampling in (Sampling(temperature=1.0), Sampling(temperature=0.7, top_k=5, top_p=0.8)):
        out = block(sampling.temperature, sampling.top_k, sampling.top_p)
        # the draws the runtime checks in float64: the same tokens from the same uniforms
        assert out["tokens"][0].tolist() == choose_rows(out["logits"][0], sampling, uniforms[0], BANNED).tolist()


def test_train_on_a_text_file_word_level_and_resume(tmp_path):
    text = tmp_path / "poem.txt"
    text.write_text("\n".join(generate_plays(15000, seed=1)["text"]) + "\n", encoding="utf-8")
    run = train_tiny("textgen", tmp_path / "w", data=str(text), overrides=["level=word"])
    assert json.loads((run / "run.json").read_text())["data"] == str(text)
    sample = rnn_apps.generate(run, "ROSA :", 20, seed=1)["samples"][0]
    assert sample and "[UNK]" not in sample
    rnn_apps.train(resume=run, epochs=3, console=QUIET)
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 3


def test_bad_text_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nsecond \xff line\n" * 3)
    with pytest.raises(UserError, match=r"bad.txt:2: invalid UTF-8 at byte offset 17"):
        train_tiny("textgen", tmp_path / "r", data=str(bad))
    assert not (tmp_path / "r").exists()
    with pytest.raises(UserError, match="not found"):
        train_tiny("textgen", tmp_path / "r", data=str(tmp_path / "missing.txt"))
    with pytest.raises(UserError, match="too few for 8 streams"):
        bad.write_text("short\n" * 10)
        train_tiny("textgen", tmp_path / "r", data=str(bad))
    with pytest.raises(UserError, match="bidirectional"):
        train_tiny("textgen", tmp_path / "r", overrides=["bidirectional=true"])


def test_invalid_utf8_can_be_replaced(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe oops\n" + ("\n".join(generate_plays(12000, seed=2)["text"])).encode() + b"\n")
    run = train_tiny("textgen", tmp_path / "r", data=str(bad), overrides=["encoding_errors=replace"])
    assert "\ufffd" in json.loads((run / "tokens.json").read_text(encoding="utf-8"))["tokens"]
    assert (run / "model.keras").is_file()


def test_sampling_defaults_of_predict_come_from_the_config(textgen_run):
    run = rnn_apps.load_run(textgen_run)
    assert run.cfg.temperature == 0.8
    a = run.output.generate(run.model, "ROSA:", 30, Sampling(temperature=0.8, seed=run.cfg.seed))[0]
    assert rnn_apps.predict(textgen_run, ["ROSA:"])[0]["text"][:30] == a


def test_the_shared_task_checks(textgen_run, tmp_path):
    check_task(textgen_run, tmp_path)


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_the_shared_tflite_checks(textgen_run, tmp_path):
    check_tflite(textgen_run, tmp_path, ("none", "dynamic", "float16"))
