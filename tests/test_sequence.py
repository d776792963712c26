"""Encoder-decoder machinery: masked loss, teacher forcing, decoding, attention maps, export."""
import numpy as np
import pytest
import tensorflow as tf

import rnn_apps
from rnn_apps.api import load_run
from rnn_apps.decoding.beam import beam_search
from rnn_apps.decoding.settings import Decoding
from rnn_apps.errors import UserError
from rnn_apps.outputs.sequence import masked_accuracy, masked_loss

START_ID, END_ID = 2, 3  # the translate vocabularies reserve them first

SENTENCES = ["the dog sees the cat .", "these old kings did not find a red boat near the river today .",
             "a bird .", "the zebra eats ."]  # the last one has a word the vocabulary lacks


def test_masked_loss_and_accuracy_count_only_real_tokens():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 6)).astype("float32")
    targets = np.array([[3, 2, 5, 0], [4, 0, 0, 0]])
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    real = [(0, 0), (0, 1), (0, 2), (1, 0)]
    want = -np.mean([log_probs[b, t, targets[b, t]] for b, t in real])
    assert float(masked_loss(targets, logits)) == pytest.approx(want, rel=1e-5)
    hits = [logits[b, t].argmax() == targets[b, t] for b, t in real]
    assert float(masked_accuracy(targets, logits)) == pytest.approx(np.mean(hits))
    # more padding, with any logits there, changes nothing
    padded_logits = np.concatenate([logits, rng.normal(size=(2, 3, 6)).astype("float32") * 50], axis=1)
    padded_targets = np.pad(targets, [(0, 0), (0, 3)])
    assert float(masked_loss(padded_targets, padded_logits)) == pytest.approx(want, rel=1e-5)


def test_teacher_forcing_batches(translate_run):
    run = load_run(translate_run)
    assert (run.output.start_id, run.output.end_id) == (START_ID, END_ID)
    assert run.features.inputs["source"].token_id("[END]") == END_ID
    examples = run.task.load_examples(run.cfg, None).take(range(40))
    inputs, target_out = next(iter(run.features.dataset(examples, training=False)))
    source, target_in, target_out = inputs["source"].numpy(), inputs["target_in"].numpy(), target_out.numpy()
    for s, ti, to in zip(source, target_in, target_out):
        n_source, n_target = (s != 0).sum(), (to != 0).sum()
        assert s[n_source - 1] == END_ID and END_ID not in s[:n_source - 1]
        assert ti[0] == START_ID and to[n_target - 1] == END_ID
        np.testing.assert_array_equal(ti[1:n_target], to[:n_target - 1])  # the input is the target, shifted


def test_a_sentence_translates_the_same_alone_or_padded_in_a_batch(translate_run):
    run = load_run(translate_run)
    together = run.output.generate(run.model, run.features, SENTENCES, Decoding())
    for sentence, result in zip(SENTENCES, together):
        assert run.output.generate(run.model, run.features, [sentence], Decoding())[0]["ids"] == result["ids"]


def test_beam_one_is_greedy_and_wider_beams_score_higher(translate_run):
    run = load_run(translate_run)
    examples = run.task.split_examples(run.task.load_examples(run.cfg, None), run.cfg)["val"]
    engine = run.output.engine(run.model, run.features)
    source = run.output.source_tensor(run.features, list(examples["source"])[:60])
    greedy, _ = engine.decode(source, Decoding())  # the greedy decode_loop
    # beam 1 through beam_search, which also reports each sentence's log-probability
    step, logits, states = engine.start(tf.constant(source))
    tokens, greedy_log_p, _ = beam_search(step, logits, states, beam=1, max_length=run.cfg.max_length + 1,
                                          end_id=END_ID, banned=(0, START_ID))
    rows = tokens.numpy().tolist()
    assert [row[:row.index(END_ID)] if END_ID in row else [t for t in row if t] for row in rows] == greedy
    _, beam_log_p = engine.decode(source, Decoding(beam=4))
    assert beam_log_p.mean() >= greedy_log_p.numpy().mean() - 1e-4


def test_attention_map_rows_sum_to_one_over_the_source(translate_run, tmp_path):
    results = rnn_apps.predict(translate_run, SENTENCES[:2], attention_plot=tmp_path / "att.png")
    run = load_run(translate_run)
    for result in results:
        attention = run.output.attention(run.model, run.features, result["source"], result["ids"])
        weights = attention["weights"]
        assert weights.shape == (len(result["ids"]) + 1, len(attention["source_tokens"]))
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        assert attention["source_tokens"][-1] == "[END]" and attention["target_tokens"][-1] == "[END]"
    assert [r["attention_plot"] for r in results] == [str(tmp_path / "att_1.png"), str(tmp_path / "att_2.png")]
    assert all((tmp_path / f"att_{i}.png").stat().st_size > 1000 for i in (1, 2))


def test_sampling_is_seeded_and_needs_beam_one(translate_run):
    a = rnn_apps.predict(translate_run, SENTENCES, temperature=1.5, seed=3)
    b = rnn_apps.predict(translate_run, SENTENCES, temperature=1.5, seed=3)
    assert [r["translation"] for r in a] == [r["translation"] for r in b] and a[0]["seed"] == 3
    with pytest.raises(UserError, match="either beam search"):
        rnn_apps.predict(translate_run, SENTENCES, beam=2, temperature=0.5)


def test_options_a_task_does_not_take_are_named(sentiment_run):
    with pytest.raises(UserError, match="--beam: not an option of predict for a sentiment run; its options: none"):
        rnn_apps.predict(sentiment_run, ["good"], beam=2)


def test_exported_translate_equals_greedy_predict_and_steps_match(translate_run, tmp_path):
    out = rnn_apps.export(translate_run, out=tmp_path / "sm")
    loaded = tf.saved_model.load(str(out))
    served = loaded.signatures["translate"](text=tf.constant(SENTENCES))
    expected = rnn_apps.predict(translate_run, SENTENCES)
    assert [t.decode("utf-8") for t in served["translation"].numpy()] == [r["translation"] for r in expected]
    # encode + decode_step, one token at a time with static shapes, give the same greedy ids
    run = load_run(translate_run)
    source_length = run.cfg.max_length + 1
    for sentence, result in zip(SENTENCES[:2], expected):
        ids = run.features.inputs["source"].encode_padded([sentence], length=source_length)
        encoded = loaded.signatures["encode"](source_ids=tf.constant(ids, tf.int32))
        states = {k: v for k, v in encoded.items() if k not in ("encoder_outputs", "source_mask")}
        token, produced = START_ID, []
        for _ in range(source_length):
            out_step = loaded.signatures["decode_step"](
                token=tf.constant([[token]], tf.int32), encoder_outputs=encoded["encoder_outputs"],
                source_mask=encoded["source_mask"], **states)
            np.testing.assert_allclose(out_step["attention"].numpy().sum(), 1.0, atol=1e-5)
            logits = out_step["logits"].numpy()[0]
            logits[[0, START_ID]] = -np.inf
            token = int(logits.argmax())
            if token == END_ID:
                break
            produced.append(token)
            states = {k: out_step[k] for k in states}
        assert produced == result["ids"]
    assert (out / "assets.extra" / "target_tokens.json").is_file()
