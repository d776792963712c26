"""Tagged sentences: CoNLL and JSON-lines readers, the scheme check and its repair."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_apps.data.tagging import read_tagged, repair_scheme
from rnn_apps.errors import UserError
from rnn_apps.metrics import entity_spans

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

U.S. NNP B-NP I-LOC
officials NNS I-NP O
, , O O
"""


def test_conll_columns_docstart_and_the_iob1_repair(tmp_path, capsys):
    path = tmp_path / "train.txt"
    path.write_text(CONLL)
    examples = read_tagged(str(path))
    assert examples["tokens"] == ["EU rejects German call .", "U.S. officials ,"]
    assert examples["tags"] == [["B-ORG", "O", "B-MISC", "O", "O"], ["B-LOC", "O", "O"]]  # I-LOC after O: B-LOC
    assert examples.origins == [f"{path}:3", f"{path}:9"]
    assert "1 I- tags began an entity" in capsys.readouterr().err
    chunks = read_tagged(str(path), tag_column="2")  # the chunk column instead
    assert chunks["tags"][0] == ["B-NP", "B-VP", "B-NP", "I-NP", "O"]


@pytest.mark.parametrize("text,column,message", [
    ("EU B-ORG\nrejects\n", "-1", r":2: 1 column\(s\)"),
    ("EU B-ORG\n", "5", r":1: 2 column\(s\)"),
    ("EU B-ORG\n", "last", "tag_column must be a column number"),
    ("EU ORG\n", "-1", "token 1 has tag 'ORG'"),
    ("\n\n-DOCSTART- O\n", "-1", "no tagged sentences"),
])
def test_conll_mistakes_name_the_line(tmp_path, text, column, message):
    path = tmp_path / "bad.conll"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        read_tagged(str(path), tag_column=column)


def test_jsonl_sentences_and_their_mistakes(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"tokens": ["Ada", "met", "Bob"], "tags": ["B-PER", "O", "B-PER"]}) + "\n\n")
    assert read_tagged(str(path))["tokens"] == ["Ada met Bob"]
    for record, message in [({"tokens": ["Ada"], "tags": ["B-PER", "O"]}, "1 tokens but 2 tags"),
                            ({"tokens": ["New York"], "tags": ["B-LOC"]}, "token 1 .* holds whitespace"),
                            ({"tokens": ["a"]}, "needs keys tokens and tags"),
                            ({"tokens": [], "tags": []}, "tokens must be a non-empty list")]:
        path.write_text(json.dumps(record) + "\n")
        with pytest.raises(UserError, match=f"{path}:1: {message}"):
            read_tagged(str(path))


TAGS = ["O", "B-PER", "I-PER", "I-LOC", "E-LOC", "S-ORG"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(TAGS), max_size=10))
def test_the_repair_keeps_every_entity(tags):
    """An I- that begins an entity becomes B-: the entities (conlleval's reading) stay the same,
    and no I- is left beginning one."""
    (fixed,), _ = repair_scheme([tags], ["s"])
    assert entity_spans(fixed) == entity_spans(tags)
    assert all(not (t.startswith("I-") and (i == 0 or fixed[i - 1][2:] != t[2:] or fixed[i - 1][0] in "OES"))
               for i, t in enumerate(fixed))
