"""``rnn-apps serve`` (rnn_apps/serving): TF Serving's REST API over a run and a TFLite
export answering what ``predict`` answers, health and metadata, dynamic batching that gives
every request what it would get alone, and a 4xx JSON error for every bad request."""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

import rnn_apps  # noqa: E402
from rnn_apps.serving.app import ServerSettings, create_app  # noqa: E402
from rnn_apps.serving.batching import Batcher, BatchSettings, DeadlineExceeded, QueueFull  # noqa: E402

SENTENCES = ["not boring at all", "a dull , lifeless film that never ends and never surprises anyone",
             "great", "the acting was fine but the story was painfully slow", "i loved it"]


def ready_client(targets: dict, settings: ServerSettings = ServerSettings(), timeout: float = 120):
    """A TestClient whose models have all loaded (or failed)."""
    client = TestClient(create_app(targets, settings))
    client.__enter__()
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        models = client.get("/v2/health/ready").json()["models"]
        if all(m["state"] != "LOADING" for m in models.values()):
            return client
        time.sleep(0.05)
    raise AssertionError("models did not load in time")


def close_enough(served: list[dict], local: list[dict]) -> None:
    assert len(served) == len(local)
    for a, b in zip(served, local):
        assert a["label"] == b["label"]
        for label, p in b["probabilities"].items():
            assert abs(a["probabilities"][label] - p) <= 1e-5


@pytest.fixture(scope="module")
def client(sentiment_run, sentiment_tflite):
    client = ready_client({"sentiment": sentiment_run, "lite": sentiment_tflite})
    yield client
    client.__exit__(None, None, None)


def test_predict_rows_and_columns_answer_what_predict_answers(client, sentiment_run, sentiment_tflite):
    local = rnn_apps.predict(sentiment_run, SENTENCES)
    rows = client.post("/v1/models/sentiment:predict", json={"instances": SENTENCES})
    assert rows.status_code == 200, rows.text
    close_enough(rows.json()["predictions"], local)
    named = client.post("/v1/models/sentiment:predict", json={"instances": [{"text": s} for s in SENTENCES]})
    close_enough(named.json()["predictions"], local)
    columns = client.post("/v1/models/sentiment:predict", json={"inputs": {"text": SENTENCES}}).json()["outputs"]
    assert columns["label"] == [p["label"] for p in local]
    lite = rnn_apps.load(sentiment_tflite).predict(SENTENCES)
    close_enough(client.post("/v1/models/lite:predict", json={"instances": SENTENCES}).json()["predictions"], lite)


def test_status_metadata_and_health(client):
    assert client.get("/v1/models/sentiment").json() == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    meta = client.get("/v1/models/sentiment/metadata").json()
    assert meta["model_spec"]["name"] == "sentiment"
    assert list(meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]) == ["text"]
    assert {m["name"] for m in client.get("/v1/models").json()["models"]} == {"sentiment", "lite"}
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/models/lite/ready").json()["ready"] is True
    assert "rnn_apps_requests_total" in client.get("/metrics").text


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"instances": []}', 400, "non-empty list"),
    (b'{"instances": "text"}', 400, "non-empty list"),
    (b'{"instances": ["a"], "inputs": ["b"]}', 400, "exactly one"),
    (b'{"rows": ["a"]}', 400, "unknown field 'rows'"),
    (b'{"instances": [{"review": "a"}]}', 400, "no input named review"),
    (b'{"instances": [{}]}', 400, "missing text"),
    (b'{"instances": [42]}', 400, "expected a string"),
    (b'{"instances": [{"b64": "%%%"}]}', 400, "not valid base64"),
    (b'{"instances": [{"b64": "/w=="}]}', 400, "not UTF-8"),
    (b'{"inputs": {"text": ["a", "b"], "other": ["c"]}}', 400, "one length"),
    (b'{"instances": ["a"], "parameters": {"beam": 4}}', 400, "takes no option 'beam'"),
    (b'{"instances": ["a"], "parameters": [1]}', 400, "must be an object"),
    (b'{"instances": ["a"], "signature_name": "classify"}', 400, "not served"),
])
def test_every_bad_request_is_a_4xx_json_error(client, body, status, words):
    response = client.post("/v1/models/sentiment:predict", content=body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"] and "Traceback" not in response.text


def test_unknown_models_and_methods_are_404(client):
    assert client.post("/v1/models/nosuch:predict", json={"instances": ["a"]}).status_code == 404
    assert "this server has sentiment, lite" in client.get("/v1/models/nosuch").json()["error"]
    assert client.post("/v1/models/sentiment:classify", json={"instances": ["a"]}).status_code == 404


def test_b64_text_is_decoded(client, sentiment_run):
    import base64

    encoded = base64.b64encode(SENTENCES[0].encode()).decode()
    served = client.post("/v1/models/sentiment:predict", json={"instances": [{"text": {"b64": encoded}}]})
    close_enough(served.json()["predictions"], rnn_apps.predict(sentiment_run, SENTENCES[:1]))


def test_api_key_body_limit_and_a_target_that_fails_to_load(sentiment_run, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "run.json").write_text("{ not json")
    settings = ServerSettings(api_key="s3cret", max_body_bytes=2_000)
    client = ready_client({"sentiment": sentiment_run, "broken": broken}, settings)
    try:
        assert client.post("/v1/models/sentiment:predict", json={"instances": ["a"]}).status_code == 401
        ok = client.post("/v1/models/sentiment:predict", json={"instances": ["a"]},
                         headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        big = client.post("/v1/models/sentiment:predict", json={"instances": ["x" * 5_000]},
                          headers={"X-API-Key": "s3cret"})
        assert big.status_code == 413 and "error" in big.json()
        ready = client.get("/v2/health/ready")  # health needs no key
        assert ready.status_code == 503
        assert ready.json()["models"]["broken"]["state"] == "FAILED" and ready.json()["models"]["broken"]["error"]
        assert client.post("/v1/models/broken:predict", json={"instances": ["a"]},
                           headers={"X-API-Key": "s3cret"}).status_code == 503
    finally:
        client.__exit__(None, None, None)


def test_a_model_that_says_it_is_ready_always_has_its_queue(sentiment_run, monkeypatch):
    """A request arriving just after a model became AVAILABLE, while the server was still
    finishing its start-up, used to find no batcher: an AttributeError and a 500."""
    import threading

    from rnn_apps.serving.app import ServedModel

    loaded, release, real_load = threading.Event(), threading.Event(), ServedModel.load

    def load_then_hold(self):
        real_load(self)
        loaded.set()
        release.wait(60)  # the server is held right after the model became AVAILABLE

    monkeypatch.setattr(ServedModel, "load", load_then_hold)
    with TestClient(create_app({"sentiment": sentiment_run})) as client:
        try:
            assert loaded.wait(120)
            answer = client.post("/v1/models/sentiment:predict", json={"instances": ["a fine film"]})
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"][0]["label"] == rnn_apps.predict(sentiment_run, ["a fine film"])[0]["label"]
        finally:
            release.set()


def test_64_concurrent_requests_are_batched_and_answered_as_alone(sentiment_run):
    """Mixed lengths, 64 clients at once: the same answers as 64 serial requests, in batches > 1."""
    texts = [" ".join(SENTENCES[i % 5].split()[: 1 + i % 9]) for i in range(64)]
    client = ready_client({"sentiment": sentiment_run},
                          ServerSettings(BatchSettings(max_batch_size=32, timeout_ms=20)))
    try:
        def ask(text):
            return client.post("/v1/models/sentiment:predict", json={"instances": [text]}).json()["predictions"][0]

        serial = [ask(t) for t in texts]
        with ThreadPoolExecutor(64) as pool:
            together = list(pool.map(ask, texts))
        close_enough(together, serial)
        metrics = client.get("/metrics").text
        count = float(next(line.split()[-1] for line in metrics.splitlines()
                           if line.startswith('rnn_apps_batch_size_count{model="sentiment"}')))
        ones = float(next(line.split()[-1] for line in metrics.splitlines()
                          if line.startswith('rnn_apps_batch_size_bucket{le="1.0",model="sentiment"}')))
        assert count - ones >= 1, "no batch held more than one request"
    finally:
        client.__exit__(None, None, None)


# --- the batcher alone ----------------------------------------------------------------------------
def run(coroutine):
    return asyncio.run(coroutine)


def test_batcher_gathers_splits_and_keeps_options_apart():
    calls = []

    def predict(rows, options):
        calls.append((list(rows), dict(options)))
        return [f"{r}:{options.get('t', 0)}" for r in rows]

    async def scenario():
        batcher = Batcher(predict, BatchSettings(max_batch_size=4, timeout_ms=50))
        batcher.start()
        answers = await asyncio.gather(*[batcher.submit([i], {}) for i in range(6)],
                                       batcher.submit([9], {"t": 1}))
        await batcher.stop()
        return answers

    answers = run(scenario())
    assert answers == [[f"{i}:0"] for i in range(6)] + [["9:1"]]
    assert max(len(rows) for rows, _ in calls) == 4  # never more than max_batch_size
    assert all(len({json.dumps(o) for r, o in calls if x in r}) == 1 for x in range(6))
    assert ([9], {"t": 1}) in calls  # other options: a batch of their own


def test_batcher_refuses_when_full_drops_late_requests_and_isolates_a_bad_request():
    def slow(rows, options):
        time.sleep(0.3)
        if "bad" in rows:
            raise ValueError("bad row")
        return rows

    async def full():
        batcher = Batcher(slow, BatchSettings(max_batch_size=1, timeout_ms=0, max_queue=2))
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(["a"], {}))
        await asyncio.sleep(0.05)  # the worker holds "a"
        waiting = [asyncio.ensure_future(batcher.submit([x], {})) for x in "bc"]
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull):
            await batcher.submit(["d"], {})
        assert await first == ["a"] and [await w for w in waiting] == [["b"], ["c"]]
        await batcher.stop()

    async def late():
        batcher = Batcher(slow, BatchSettings(max_batch_size=1, timeout_ms=0, deadline_s=0.1))
        batcher.start()
        with pytest.raises(DeadlineExceeded):
            await batcher.submit(["a"], {})
        await batcher.stop()

    async def isolated():
        batcher = Batcher(slow, BatchSettings(max_batch_size=8, timeout_ms=100))
        batcher.start()
        good, bad = await asyncio.gather(batcher.submit(["ok"], {}), batcher.submit(["bad"], {}),
                                         return_exceptions=True)
        await batcher.stop()
        return good, bad

    run(full())
    run(late())
    good, bad = run(isolated())
    assert good == ["ok"] and isinstance(bad, ValueError)


def test_serving_a_tflite_export_never_imports_tensorflow(sentiment_tflite):
    code = ("import sys, time, json\n"
            "from fastapi.testclient import TestClient\n"
            "from rnn_apps.serving.app import create_app\n"
            f"client = TestClient(create_app({{'lite': {str(sentiment_tflite)!r}}}))\n"
            "with client:\n"
            "    while client.get('/v2/health/ready').status_code != 200: time.sleep(0.05)\n"
            "    r = client.post('/v1/models/lite:predict', json={'instances': ['not bad']})\n"
            "    print(json.dumps([r.status_code, sorted({m.split('.')[0] for m in sys.modules} & "
            "{'tensorflow', 'keras'})]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [200, []]


def test_cli_names_targets_and_refuses_what_is_not_one(sentiment_run, sentiment_tflite, tmp_path):
    from click.testing import CliRunner

    from rnn_apps.cli.serve import parse_targets, serve

    assert set(parse_targets((str(sentiment_run), str(sentiment_tflite)))) == {"sentiment", "sentiment-2"}
    assert set(parse_targets((f"reviews={sentiment_run}",))) == {"reviews"}
    result = CliRunner().invoke(serve, [str(tmp_path)])
    assert result.exit_code != 0 and "not a run directory" in str(result.exception or result.output)


def test_pictures_and_clips_come_as_b64_or_from_the_allowed_folder(vqa_run, video_run, tmp_path):
    """A VQA picture and a video clip sent as {"b64": ...} get what predict gives for the
    same files; a path is refused unless it lies inside --allow-dir."""
    import base64

    import numpy as np
    from PIL import Image

    from rnn_apps.models.video import generate_clips
    from rnn_apps.models.vqa import generate_scenes

    Image.fromarray(generate_scenes(1, seed=3)["image"][0]).save(tmp_path / "scene.png")
    np.save(tmp_path / "clip.npy", generate_clips(1, seed=3)["frames"][0])
    question = "is there a red object ?"
    b64 = {name: {"b64": base64.b64encode((tmp_path / name).read_bytes()).decode()}
           for name in ("scene.png", "clip.npy")}
    client = ready_client({"vqa": vqa_run, "video": video_run}, ServerSettings(allow_dir=tmp_path))
    try:
        vqa = client.post("/v1/models/vqa:predict",
                          json={"instances": [{"image": b64["scene.png"], "question": question}]})
        assert vqa.status_code == 200, vqa.text
        local = rnn_apps.predict(vqa_run, [{"image": str(tmp_path / "scene.png"), "question": question}])[0]
        assert vqa.json()["predictions"][0]["label"] == local["label"]
        video = client.post("/v1/models/video:predict", json={"instances": [b64["clip.npy"]]})
        assert video.status_code == 200, video.text
        assert video.json()["predictions"][0]["labels"] == rnn_apps.predict(video_run, [str(tmp_path / "clip.npy")])[0]["labels"]
        by_path = client.post("/v1/models/video:predict", json={"instances": ["clip.npy"]})
        assert by_path.status_code == 200, by_path.text
        outside = client.post("/v1/models/video:predict", json={"instances": ["../../etc/passwd"]})
        assert outside.status_code == 403
        not_a_picture = client.post("/v1/models/video:predict", json={"instances": [{"b64": "aGVsbG8="}]})
        assert not_a_picture.status_code == 400 and "not a PNG" in not_a_picture.json()["error"]
    finally:
        client.__exit__(None, None, None)
    closed = ready_client({"video": video_run})
    try:
        refused = closed.post("/v1/models/video:predict", json={"instances": [str(tmp_path / "clip.npy")]})
        assert refused.status_code == 400 and "--allow-dir" in refused.json()["error"]
    finally:
        closed.__exit__(None, None, None)


def test_generate_and_its_stream_give_the_text_generate_gives(textgen_run, textgen_tflite):
    """Server-sent events, one per chunk of new text, joined: the text ``rnn_apps.generate``
    gives for the same seed (run and TFLite export); mistakes are 4xx."""
    parameters = {"length": 60, "temperature": 0.8, "top_p": 0.9, "seed": 7}
    client = ready_client({"textgen": textgen_run, "lite": textgen_tflite})
    try:
        for name, target in (("textgen", textgen_run), ("lite", textgen_tflite)):
            expected = rnn_apps.generate(target, "ROSA:", 60, temperature=0.8, top_p=0.9, seed=7)["samples"][0]
            whole = client.post(f"/v1/models/{name}:generate", json={"text_input": "ROSA:", "parameters": parameters})
            assert whole.status_code == 200, whole.text
            assert whole.json()["text_output"] == expected
            with client.stream("POST", f"/v1/models/{name}:generate_stream",
                               json={"text_input": "ROSA:", "parameters": parameters}) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                events = [json.loads(line[len("data: "):]) for line in response.iter_lines() if line.startswith("data: ")]
            assert events[-1]["done"] is True and len(events) > 2
            assert "".join(e.get("text_output", "") for e in events) == expected
        for body, words in (({"text_input": 3}, "text_input"), ({"text_input": "a", "parameters": {"beam": 2}}, "no option"),
                            ({"text_input": "a", "parameters": {"length": 0}}, "length"),
                            ({"text_input": "a", "parameters": {"temperature": "hot"}}, "temperature"),
                            ({"text_input": "a", "parameters": {"top_p": 2.0}}, "top-p must be at most 1")):
            response = client.post("/v1/models/textgen:generate_stream", json=body)
            assert response.status_code == 400 and words in response.json()["error"], response.text
        assert "rnn_apps_generated_characters_total" in client.get("/metrics").text
    finally:
        client.__exit__(None, None, None)


def stream_text(client, name: str, body: dict) -> str:
    with client.stream("POST", f"/v1/models/{name}:generate_stream", json=body) as response:
        assert response.status_code == 200, response.read()
        events = [json.loads(line[len("data: "):]) for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1]["done"] is True
    return "".join(e.get("text_output", "") for e in events)


def test_more_streams_than_worker_threads_take_turns_and_keep_their_own_text(textgen_run, sentiment_run):
    """12 streams at once on one model (twice the worker threads of a 2-core machine; a
    model locked for a whole stream deadlocked the server at 7), with predictions for another
    model beside them: every stream ends with the text it gets alone (streams take turns
    chunk by chunk and keep their own states), and the other model answers."""
    client = ready_client({"textgen": textgen_run, "sentiment": sentiment_run})
    pool = ThreadPoolExecutor(16)
    try:
        bodies = [{"text_input": "ROSA:", "parameters": {"length": 80, "temperature": 0.9, "seed": seed}}
                  for seed in range(12)]
        alone = [stream_text(client, "textgen", body) for body in bodies]
        assert len(set(alone)) > 6  # different seeds, different texts: a mix-up would show
        together = [pool.submit(stream_text, client, "textgen", body) for body in bodies]
        predicted = [pool.submit(client.post, "/v1/models/sentiment:predict", json={"instances": [text]})
                     for text in SENTENCES]
        assert [f.result(timeout=120) for f in together] == alone
        assert all(f.result(timeout=120).status_code == 200 for f in predicted)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        client.__exit__(None, None, None)


def test_generate_requests_over_the_cap_are_429(textgen_run, monkeypatch):
    """``max_streams`` generate requests run at once per model; one more is answered 429 at
    once (not queued behind them), and the slot is free again when a stream ends."""
    import threading

    client = ready_client({"textgen": textgen_run}, ServerSettings(max_streams=1))
    started, release = threading.Event(), threading.Event()
    pool = ThreadPoolExecutor(2)
    try:
        real_stream = rnn_apps.api.Run.stream

        def held(self, *args, **kwargs):  # the first chunk waits until the test lets it go
            started.set()
            release.wait(60)
            yield from real_stream(self, *args, **kwargs)

        monkeypatch.setattr(rnn_apps.api.Run, "stream", held)
        body = {"text_input": "ROSA:", "parameters": {"length": 20, "seed": 1}}
        first = pool.submit(stream_text, client, "textgen", body)
        assert started.wait(60)
        refused = client.post("/v1/models/textgen:generate", json=body)
        assert refused.status_code == 429 and "1 generate requests are running" in refused.json()["error"]
        release.set()
        assert len(first.result(timeout=120)) > 0
        again = client.post("/v1/models/textgen:generate", json=body)
        assert again.status_code == 200, again.text
    finally:
        release.set()
        pool.shutdown(wait=False, cancel_futures=True)
        client.__exit__(None, None, None)
