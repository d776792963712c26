import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_apps.errors import UserError
from rnn_apps.data.examples import as_text, split_examples
from rnn_apps.data.readers import read_source

WANTED = {"text": "auto", "label": "auto"}
ALIASES = {"text": ("sentence", "text"), "label": ("label", "sentiment")}


def read(path, **wanted):
    return read_source(str(path), {**WANTED, **wanted}, ALIASES)


def test_glue_tsv_with_header_and_trailing_spaces(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_text("sentence\tlabel\nhide new secretions \t0\nit 's a charming journey \t1\n")
    ex = read(f)
    assert ex["text"] == ["hide new secretions", "it 's a charming journey"]
    assert ex["label"] == ["0", "1"] and ex.origins == [f"{f}:2", f"{f}:3"]


def test_uci_txt_crlf_no_header_no_final_newline_unmatched_quote(tmp_path):
    f = tmp_path / "imdb_labelled.txt"
    f.write_bytes(b'"A very slow movie.  \t0\r\nGood case, Excellent value.\t1\r\nCrust is not good.\t0')
    ex = read(f)
    assert ex["text"] == ['"A very slow movie.', "Good case, Excellent value.", "Crust is not good."]
    assert ex["label"] == ["0", "1", "0"]


def test_csv_with_quotes_and_named_columns(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text('id,review,stars\n1,"good, really good",5\n2,"bad ""awful"" film",1\n')
    ex = read(f, text="review", label="stars")
    assert ex["text"] == ["good, really good", 'bad "awful" film'] and ex["label"] == ["5", "1"]


def test_positional_columns(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("pos\tx\tnice film\nneg\ty\tbad film\n")
    ex = read(f, text="2", label="0")
    assert ex["text"] == ["nice film", "bad film"] and ex["label"] == ["pos", "neg"]


def test_jsonl(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps({"text": "fine", "label": 1}) + "\n\n" + json.dumps({"text": "meh", "label": 0}) + "\n")
    ex = read(f)
    assert ex["text"] == ["fine", "meh"] and ex.origins[1].endswith(":3")
    assert ex["label"] == [1, 0] and [as_text(v) for v in ex["label"]] == ["1", "0"]  # typed; kinds convert


@pytest.mark.parametrize("name, content, message", [
    ("d.tsv", "sentence\tlabel\ngood\t1\njust text\n", r"d.tsv:3: expected at least 2 tab-separated columns, found 1"),
    ("d.tsv", "", r"d.tsv: no examples found"),
    ("d.tsv", "sentence\tlabel\n", r"d.tsv: only a header line"),
    ("d.tsv", "good\t1\n\t0\n", r"d.tsv:2: empty text"),
    ("d.jsonl", '{"text": "a", "label": 1}\n{"text": \n', r"d.jsonl:2: invalid JSON"),
    ("d.jsonl", '{"text": "a", "label": 1}\n{"text": "b"}\n', r"d.jsonl:2: missing key 'label'"),
    ("d.jsonl", '[1, 2]\n', r"d.jsonl:1: expected a JSON object"),
    ("d.parquet", "x", r"unsupported file type .parquet; supported: .tsv/.txt/.csv/.jsonl|unsupported file type"),
])
def test_malformed_input_names_file_and_line(tmp_path, name, content, message):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(UserError, match=message):
        read(f)


def test_unknown_column_name_lists_columns(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("review,stars\ngood,5\n")
    with pytest.raises(UserError, match="no column named 'label' .*columns: review, stars"):
        read(f, text="review", label="label")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        read(tmp_path / "nope.tsv")
    with pytest.raises(UserError, match="is a directory"):
        read(tmp_path)


def test_invalid_utf8_reports_line_and_byte_offset(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_bytes(b"good\t1\nb\xffd\t0\n")
    with pytest.raises(UserError, match=r"d.tsv:2: invalid UTF-8 at byte offset 8"):
        read(f)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab \t\n\r\",;{}:", max_size=12), max_size=6))
def test_fuzzed_files_parse_or_fail_cleanly(tmp_path_factory, lines):
    """Whatever the bytes, a reader returns consistent columns or raises UserError."""
    for suffix in (".tsv", ".csv", ".jsonl"):
        f = tmp_path_factory.mktemp("fuzz") / f"d{suffix}"
        f.write_text("\n".join(lines))
        try:
            ex = read(f)
        except UserError:
            continue
        assert len(ex["text"]) == len(ex["label"]) == len(ex) > 0
        assert all(as_text(t).strip() for t in ex["text"])


def test_split_is_deterministic_and_disjoint(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("".join(f"text {i}\t{i % 2}\n" for i in range(100)))
    ex = read(f)
    a, b = split_examples(ex, 0.1, 0.2, seed=3), split_examples(ex, 0.1, 0.2, seed=3)
    assert [len(a[k]) for k in ("train", "val", "test")] == [70, 10, 20]
    assert a["test"]["text"] == b["test"]["text"]
    assert set(a["train"]["text"]).isdisjoint(a["test"]["text"] + a["val"]["text"])
    assert split_examples(ex, 0.1, 0.2, seed=4)["test"]["text"] != a["test"]["text"]


def test_tfds_source_reads_a_prepared_dataset_offline(tmp_path):
    import tensorflow_datasets as tfds

    class TinyReviews(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "text": tfds.features.Text(), "label": tfds.features.ClassLabel(names=["neg", "pos"])}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(6), "test": self._generate_examples(2)}

        def _generate_examples(self, n):
            for i in range(n):
                yield i, {"text": f"review number {i}", "label": i % 2}

    TinyReviews(data_dir=str(tmp_path)).download_and_prepare()
    ex = read_source("tfds:tiny_reviews:test", WANTED, ALIASES, tfds_data_dir=str(tmp_path))
    assert sorted(ex["label"]) == ["neg", "pos"] and len(ex) == 2
    assert len(read_source("tfds:tiny_reviews", WANTED, ALIASES, tfds_data_dir=str(tmp_path))) == 6
    with pytest.raises(UserError, match="no split 'dev'; splits: "):
        read_source("tfds:tiny_reviews:dev", WANTED, ALIASES, tfds_data_dir=str(tmp_path))


def test_tfds_unprepared_dataset_names_the_data_dir(tmp_path):
    with pytest.raises(UserError, match=f"not prepared in {tmp_path}"):
        read_source("tfds:mnist", WANTED, ALIASES, tfds_data_dir=str(tmp_path))


def test_old_mac_line_endings_and_a_bom_before_invalid_utf8(tmp_path):
    """Lines ended by a lone ``\\r`` are lines; after a UTF-8 byte-order mark, byte offsets count
    from the text (as they did before reading became a stream)."""
    path = tmp_path / "cr.tsv"
    path.write_bytes(b"text\tlabel\rgood\tpos\rbad\tneg\r")
    ex = read_source(str(path), WANTED, ALIASES)
    assert ex["text"] == ["good", "bad"] and ex.origins[-1].endswith("cr.tsv:3")
    path.write_bytes(b"\xef\xbb\xbftext\tlabel\ngood\tpos\nb\xffad\tneg\n")
    with pytest.raises(UserError, match=r"cr\.tsv:3: invalid UTF-8 at byte offset 21$"):
        read_source(str(path), WANTED, ALIASES)


def test_label_files_of_the_media_tasks_keep_csv_quoting_in_tsv(tmp_path):
    from rnn_apps.data.readers import read_records

    path = tmp_path / "labels.tsv"
    path.write_text('video\tlabel\n"a clip.npy"\t"walk"\n')
    assert read_records(path) == [(f"{path}:2", {"video": "a clip.npy", "label": "walk"})]
