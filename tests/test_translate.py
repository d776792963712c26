"""The translate task: the built-in language pair, reading pair files, learning, the CLI."""
import json
import re

import pytest
from click.testing import CliRunner
from harness import check_task, check_tflite
from conftest import QUIET

import rnn_apps
from rnn_apps.cli.main import cli
from rnn_apps.config import resolve_config
from rnn_apps.errors import UserError
from rnn_apps.models.translate import ADJECTIVES, NOUNS, TranslateConfig, generate_pairs, load_examples


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_builtin_pairs_are_deterministic_distinct_and_varied():
    pairs = generate_pairs(3000, seed=1)
    assert pairs.columns == generate_pairs(3000, seed=1).columns
    assert pairs.columns != generate_pairs(3000, seed=2).columns
    assert len(set(pairs["source"])) == 3000
    lengths = [len(s.split()) for s in pairs["source"]]
    assert min(lengths) <= 5 and max(lengths) >= 25


def test_builtin_grammar_reorders_and_agrees():
    pairs = list(zip(*generate_pairs(3000, seed=0).columns.values()))
    simple = [(s, t) for s, t in pairs if re.fullmatch(r"the (\w+) (saw|found|liked|knew) \.", s)]
    assert len(simple) >= 3
    for _, target in simple:  # the verb agrees with its subject in the past tense too
        plural = target.split()[0] in ("los", "las")
        assert target.split()[2].endswith("isen" if plural else "is"), target
    nouns = {english: (target, gender) for english, target, gender, *_ in NOUNS}
    adjectives = dict(ADJECTIVES)
    checked = 0
    for source, target in pairs:  # "the ADJ NOUN ..." -> "lo/la NOUN ADJ-o/-a ..."
        words = source.split()
        if words[0] == "the" and words[1] in adjectives and words[2] in nouns and "because" not in words \
                and words[2] != "fish":  # "fish" is also a plural
            noun, gender = nouns[words[2]]
            ending = "o" if gender == "m" else "a"
            assert target.split()[:3] == [{"m": "lo", "f": "la"}[gender], noun, adjectives[words[1]] + ending], target
            checked += 1
    assert checked >= 20
    fronted = [(s, t) for s, t in pairs if " because " in s]
    assert fronted and all(t.startswith("kar ") for _, t in fronted)  # the because-clause moves to the front


def test_pair_files_with_attribution_column_and_reverse(tmp_path):
    data = tmp_path / "spa.txt"
    data.write_text("Go.\tVe.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n"
                    "Hi.\tHola.\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM)\n", encoding="utf-8")
    cfg = resolve_config(TranslateConfig)
    examples = load_examples(cfg, str(data))
    assert examples["source"] == ["Go.", "Hi."] and examples["target"] == ["Ve.", "Hola."]
    assert examples.origins == [f"{data}:1", f"{data}:2"]
    reverse = load_examples(resolve_config(TranslateConfig, overrides=["reverse=true"]), str(data))
    assert reverse["source"] == ["Ve.", "Hola."] and reverse["target"] == ["Go.", "Hi."]
    bad = tmp_path / "bad.tsv"
    bad.write_text("one\tuno\ntwo only\n")
    with pytest.raises(UserError, match=r"bad.tsv:2: expected at least 2 tab-separated columns"):
        load_examples(cfg, str(bad))


def test_normalisation_lowercases_and_composes(tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"Cafe\u0301 {i} OK\tKAFFEE {i}\n" for i in range(30)), encoding="utf-8")
    run = rnn_apps.train("translate", data=str(data), preset="tiny", run_dir=tmp_path / "run", console=QUIET,
                         overrides=["epochs=1", "tokenizer=words", "lowercase=true"])
    tokens = json.loads((run / "source_tokens.json").read_text(encoding="utf-8"))["tokens"]
    assert "café" in tokens and "ok" in tokens and "OK" not in tokens  # NFC: one character, not e + accent
    assert "kaffee" in json.loads((run / "target_tokens.json").read_text(encoding="utf-8"))["tokens"]


@pytest.mark.slow
def test_learns_the_builtin_language_pair(tmp_path):
    run = rnn_apps.train("translate", preset="small", run_dir=tmp_path / "run", console=QUIET,
                         overrides=["builtin_examples=6000", "epochs=6", "early_stopping=0"])
    report = json.loads((run / "metrics.json").read_text())["test"]
    assert report["bleu"] > 50 and report["accuracy"] > 0.8, report  # attention none: BLEU ~ 5 here


def test_cli_predict_evaluate_and_mistakes(translate_run, sentiment_run, tmp_path):
    result = invoke("predict", translate_run, "the dog sees the cat .", "--beam", "3", "--attention-plot",
                    tmp_path / "att.png")
    assert result.exit_code == 0, result.output
    assert "log p" in result.output and (tmp_path / "att.png").stat().st_size > 1000
    report = json.loads(invoke("evaluate", translate_run, "--beam", "2", "--json").output)
    assert {"bleu", "chrf", "exact_match", "loss", "accuracy"} <= set(report) and report["beam"] == 2
    assert "examples" in invoke("evaluate", translate_run).output
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("source\ttarget\nthe dog sees the cat .\tlo vako la miru di vide .\n"
                     "a bird .\tun pilo .\n", encoding="utf-8")
    report = json.loads(invoke("evaluate", translate_run, "--data", pairs, "--json").output)
    assert report["examples"] == 2 and report["samples"][1]["reference"] == "un pilo ."  # as in the data
    mistakes = [(["predict", sentiment_run, "good", "--beam", "2"], "not an option of predict for a sentiment run"),
                (["train", "sentiment", "--reverse"], "unknown config key 'reverse'; valid keys: epochs"),
                (["train", "translate", "--set", "attention=dot"], "must be one of bahdanau, luong, none"),
                (["predict", translate_run, "x", "--beam", "2", "--temperature", "1"], "either beam search")]
    for args, message in mistakes:
        result = invoke(*args)
        assert result.exit_code == 2 and message in result.output, result.output


def test_the_shared_task_checks(translate_run, tmp_path):
    check_task(translate_run, tmp_path)


@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_the_shared_tflite_checks(translate_run, tmp_path):
    check_tflite(translate_run, tmp_path)
