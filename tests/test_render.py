"""cli/render.py: results shown by output kind."""
from rnn_apps.cli import render
from rnn_apps.outputs.results import step_result


def test_a_tagged_sentence_shows_its_entities_and_one_without_words_says_so(capsys, monkeypatch):
    from rich.console import Console

    monkeypatch.setattr(render, "out", Console(width=200, no_color=True, highlight=False))
    results = [step_result("sentence", "Ada met Bob [x]", ["B-PER", "O", "B-PER", "O"],
                           tokens=["Ada", "met", "Bob", "[x]"]),
               step_result("sentence", "", [], tokens=[])]
    render.step_predictions(None, results, ["sentence"])
    assert capsys.readouterr().out.splitlines() == ["[Ada]PER met [Bob]PER [x]", "(no words to tag)"]
