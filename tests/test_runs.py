"""rnn_apps/runs.py: files written temp-then-rename by several writers at once."""
import json
import multiprocessing
import threading

import pytest

from rnn_apps import runs


def _write_many(path, writer, count):
    for i in range(count):
        runs.write_json(path, {"writer": writer, "i": i})


def test_two_processes_writing_one_file_never_rename_each_others_temp_file(tmp_path):
    """Workers of one tuning study write the same report.json and plots: before temp names
    were per process, one worker renamed the other's temp file away (FileNotFoundError)."""
    path = tmp_path / "report.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(path, w, 300)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert json.loads(path.read_text())["i"] == 299
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp file left


def test_threads_writing_one_file_never_collide(tmp_path):
    path, errors = tmp_path / "state.json", []

    def write():
        try:
            _write_many(path, threading.get_ident(), 300)
        except OSError as exc:  # pragma: no cover - the failure this test exists for
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize("suffix", ["", ".png", ".keras"])
def test_a_temp_name_is_hidden_beside_the_file_and_keeps_the_format_suffix(tmp_path, suffix):
    tmp = runs.temp_sibling(tmp_path / "history.png", suffix)
    assert tmp.parent == tmp_path and tmp.name.startswith(".history.png.") and tmp.name.endswith(".tmp" + suffix)
    assert tmp != runs.temp_sibling(tmp_path / "other.png", suffix)
