"""``rnn-apps serve`` beyond the REST API: the web page per model (rnn_apps/serving/page.py)
driven in headless Chromium, answering what ``rnn_apps.predict`` answers (a label and its
bars, a sentence decoded greedily or by beam search with its attention heatmap, a label per
frame, a sentence with its entities marked, streamed text); a graceful shutdown on SIGTERM;
and the deploy files (deploy/), held to the routes and options the server really has.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (``make install``
installs them when run as root) and ``selenium`` (the ``dev`` extra); without them they skip
and say so. Nothing downloads a browser.
"""
from __future__ import annotations

import configparser
import importlib.metadata
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
import httpx  # noqa: E402
import uvicorn  # noqa: E402
import yaml  # noqa: E402
from test_serving import ready_client  # noqa: E402  (the REST tests' helper: a TestClient with models loaded)

import rnn_apps  # noqa: E402
from rnn_apps.serving import page  # noqa: E402
from rnn_apps.serving.app import GENERATE_OPTIONS, ServerSettings, create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1000,900")
KEY = "page-s3cret"
SENTENCE = "not boring at all"
QUESTION = "is there a red object ?"
SOURCE = "the old dogs saw a red boat ."
TAGGED = ("Anna Smith , as the papers noted , was born in New York in May .",
          "Omar Chen visited Oslo with Ada Lovelace on 12 May 2019 .")


@pytest.fixture(scope="module")
def tag_entities_run(tiny_run):
    """A tag run trained long enough to mark entities (the plain tiny run tags every word
    ``O``, which would leave the page nothing to mark): about 15 s."""
    return tiny_run("tag", name="tag-entities", overrides=["builtin_examples=1000"], epochs=6)


# --- the page over HTTP, no browser ------------------------------------------------------------
def test_the_page_is_public_but_what_it_shows_needs_the_key(sentiment_run, textgen_run):
    """The shell (``/``, ``/ui/NAME``) is the same self-contained page for everyone; the
    model's view, like every API call the page makes, needs the key."""
    client = ready_client({"sentiment": sentiment_run, "textgen": textgen_run}, ServerSettings(api_key=KEY))
    try:
        for path in ("/", "/ui/sentiment", "/ui/nosuch"):
            shell = client.get(path)
            assert shell.status_code == 200 and shell.headers["content-type"].startswith("text/html")
            assert "default-src 'self'" in shell.headers["content-security-policy"]
        assert not re.search(r"(src|href)=\"?(https?:)?//", shell.text), "the page loads nothing from elsewhere"
        assert client.get("/ui/sentiment/view").status_code == 401
        assert client.get("/v1/models", headers={"X-API-Key": "wrong"}).status_code == 401
        view = client.get("/ui/sentiment/view", headers={"X-API-Key": KEY}).json()
        assert view == {"name": "sentiment", "task": "sentiment", "output": "label", "noun": "",
                        "inputs": [{"name": "text", "kind": "text"}], "parameters": [], "method": "predict",
                        "attention": False}
        textgen = client.get("/ui/textgen/view", headers={"Authorization": f"Bearer {KEY}"}).json()
        assert textgen["method"] == "generate_stream"
        assert [p["name"] for p in textgen["parameters"]] == list(GENERATE_OPTIONS)
        missing = client.get("/ui/nosuch/view", headers={"X-API-Key": KEY})
        assert missing.status_code == 404 and "this server has sentiment, textgen" in missing.json()["error"]
    finally:
        client.__exit__(None, None, None)


def test_attention_gives_the_map_of_the_output_the_page_shows(translate_run, sentiment_run):
    """``page.attention``, behind the page's heatmap: one row per output token and [END], one
    column per source token, each row a distribution, for a beam output as for a greedy one;
    ids that are not an output's are refused, and a model without attention says so."""
    from rnn_apps.errors import UserError
    from rnn_apps.serving.app import ServedModel

    translate, sentiment = ServedModel("translate", translate_run), ServedModel("sentiment", sentiment_run)
    translate.load()
    sentiment.load()
    assert page.view(translate, GENERATE_OPTIONS)["attention"]
    assert not page.view(sentiment, GENERATE_OPTIONS)["attention"]
    for options in ({}, {"beam": 3}):
        expected = rnn_apps.predict(translate_run, [SOURCE], **options)[0]
        found = page.attention(translate, {"source": SOURCE}, expected["ids"])
        assert found["target_tokens"] == expected["tokens"] + ["[END]"]
        assert len(found["weights"]) == len(found["target_tokens"])
        assert all(len(row) == len(found["source_tokens"]) and abs(sum(row) - 1) < 1e-3 for row in found["weights"])
    assert found["source_tokens"][-1] == "[END]"  # the encoder reads the sentence's end too
    for ids in ("1 2", [1.5], [10**6], [True], list(range(2, 200))):
        with pytest.raises(UserError, match="ids"):
            page.attention(translate, {"source": SOURCE}, ids)
    with pytest.raises(UserError, match="source: a sentence"):
        page.attention(translate, {"source": 3}, [])
    with pytest.raises(UserError, match="no attention map"):
        page.attention(sentiment, {"text": SENTENCE}, [])


def test_the_attention_route_answers_the_map_and_a_bad_request_is_a_4xx(translate_run):
    """``POST /ui/NAME/attention`` (what the page's heatmap asks): the map ``page.attention``
    gives, and a 4xx JSON error naming the problem for a bad body, never a 500."""
    from fastapi.testclient import TestClient

    from rnn_apps.serving.app import ServedModel, create_app

    expected = rnn_apps.predict(translate_run, [SOURCE])[0]
    served = ServedModel("translate", translate_run)
    served.load()
    want = page.attention(served, {"source": SOURCE}, expected["ids"])
    with TestClient(create_app({"translate": translate_run})) as client:
        for _ in range(600):
            if client.get("/v2/health/ready").status_code == 200:
                break
            time.sleep(0.1)
        answer = client.post("/ui/translate/attention", json={"instances": [SOURCE], "ids": expected["ids"]})
        assert answer.status_code == 200, answer.text
        assert answer.json() == want
        for body, words in ((b"{not json", "not JSON"), (b"[1]", "the body is"),
                            (json.dumps({"instances": [SOURCE], "ids": [10**6]}).encode(), "ids"),
                            (json.dumps({"ids": []}).encode(), "instances")):
            bad = client.post("/ui/translate/attention", content=body, headers={"Content-Type": "application/json"})
            assert 400 <= bad.status_code < 500 and words in bad.json()["error"], (body, bad.text)
        assert client.post("/ui/nosuch/attention", json={"instances": [SOURCE], "ids": []}).status_code == 404


def test_only_the_shell_is_public():
    assert page.is_public("/") and page.is_public("/ui/sentiment") and page.is_public("/ui/my-model_2/")
    for guarded in ("/ui/sentiment/view", "/ui/", "/ui/a/b", "/v1/models", "/docs", "/metrics", "//ui/x"):
        assert not page.is_public(guarded), guarded


# --- the page in a browser -----------------------------------------------------------------------
def free_socket() -> socket.socket:
    """A socket bound to a free loopback port (uvicorn listens on it: no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def wait_ready(url: str, timeout: float = 180, process: subprocess.Popen | None = None) -> None:
    """Until ``url``/v2/health/ready answers 200 (every model loaded), or fail."""
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} was not ready within {timeout:g}s")


@pytest.fixture(scope="module")
def server(sentiment_run, vqa_run, caption_run, textgen_run, video_run, translate_run, tag_entities_run):
    """``rnn-apps serve``'s app under uvicorn in a thread, on a free port, with an API key:
    yields its base URL."""
    targets = {"sentiment": sentiment_run, "vqa": vqa_run, "caption": caption_run, "textgen": textgen_run,
               "video": video_run, "translate": translate_run, "tag": tag_entities_run}
    sock = free_socket()
    config = uvicorn.Config(create_app(targets, ServerSettings(api_key=KEY)), log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = "http://127.0.0.1:%d" % sock.getsockname()[1]
    try:
        wait_ready(url)
        yield url
    finally:
        running.should_exit = True
        thread.join(timeout=30)
        sock.close()


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        return (f"no browser: {', '.join(missing)} missing (apt-get install chromium chromium-driver; "
                f"`make install` does it as root)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is missing: pip install -e '.[dev]'"
    return ""


# a mark, not a skip inside a fixture: it skips before the runs the tests need are trained
needs_browser = pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "-")


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven through selenium (the system's chromedriver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def wait_for(driver, condition, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def open_model(browser, server: str, name: str) -> None:
    """Load ``/ui/NAME``, typing the API key into the page's field if it does not hold it yet."""
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{server}/ui/{name}")
    if not by_id(browser, "api-key").get_attribute("value"):
        by_id(browser, "api-key").send_keys(KEY + Keys.TAB)  # leaving the field stores the key and reloads the view
    wait_for(browser, lambda d: d.find_elements("id", "run"), timeout=30)


def answer(browser, screenshot: Path) -> None:
    """Click the button, wait for the answer, keep a screenshot; fail with the page's error."""
    by_id(browser, "run").click()
    wait_for(browser, lambda d: by_id(d, "result").get_attribute("data-state") in ("done", "error"))
    browser.save_screenshot(str(screenshot))
    assert by_id(browser, "result").get_attribute("data-state") == "done", by_id(browser, "result").text


def bars(browser) -> dict[str, float]:
    """The probability bars the page drew: label -> probability."""
    return {bar.get_attribute("data-label"): float(bar.get_attribute("data-probability"))
            for bar in browser.find_elements("css selector", ".bar-row")}


def assert_label_drawn(browser, expected: dict) -> None:
    """The label shown and one bar per label (or the five best) with predict's probabilities."""
    assert by_id(browser, "answer").text == expected["label"]
    wanted = expected.get("probabilities") or {t["label"]: t["probability"] for t in expected["top"]}
    drawn = bars(browser)
    assert drawn.keys() == wanted.keys()
    for label, p in wanted.items():
        assert abs(drawn[label] - p) <= 1e-5, label


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A built-in VQA scene as a PNG and a built-in video clip as .npy, to upload."""
    import numpy as np
    from PIL import Image

    from rnn_apps.models.video import generate_clips
    from rnn_apps.models.vqa import generate_scenes

    folder = tmp_path_factory.mktemp("media")
    Image.fromarray(generate_scenes(1, seed=3)["image"][0]).save(folder / "scene.png")
    np.save(folder / "clip.npy", generate_clips(1, seed=3)["frames"][0])
    return {"picture": folder / "scene.png", "clip": folder / "clip.npy"}


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_sentiment_needs_the_key_then_shows_label_and_bars(browser, server, sentiment_run, tmp_path):
    browser.get(f"{server}/ui/sentiment")
    browser.execute_script("sessionStorage.clear(); document.getElementById('api-key').value = '';")
    browser.get(f"{server}/ui/sentiment")
    refused = wait_for(browser, lambda d: d.find_elements("id", "error"), timeout=30)[0]
    assert "API key" in refused.text
    open_model(browser, server, "sentiment")
    by_id(browser, "input-text").send_keys(SENTENCE)
    answer(browser, tmp_path / "sentiment.png")
    assert_label_drawn(browser, rnn_apps.predict(sentiment_run, [SENTENCE])[0])
    browser.get(f"{server}/")  # the list of models, with the key kept for the session
    listed = wait_for(browser, lambda d: d.find_elements("css selector", "#models a"), timeout=30)
    assert [a.text for a in listed] == ["sentiment", "vqa", "caption", "textgen", "video", "translate", "tag"]


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_vqa_picture_and_question_give_predicts_answer(browser, server, vqa_run, media, tmp_path):
    open_model(browser, server, "vqa")
    by_id(browser, "input-image").send_keys(str(media["picture"]))
    by_id(browser, "input-question").send_keys(QUESTION)
    answer(browser, tmp_path / "vqa.png")
    assert_label_drawn(browser, rnn_apps.predict(vqa_run, [{"image": str(media["picture"]), "question": QUESTION}])[0])


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_caption_of_a_picture_is_predicts_caption(browser, server, caption_run, media, tmp_path):
    open_model(browser, server, "caption")
    by_id(browser, "input-image").send_keys(str(media["picture"]))
    by_id(browser, "param-beam").send_keys("2")
    answer(browser, tmp_path / "caption.png")
    expected = rnn_apps.predict(caption_run, [str(media["picture"])], beam=2)[0]["caption"]
    assert by_id(browser, "answer").get_attribute("textContent") == expected


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_video_clip_gets_predicts_label_per_frame(browser, server, video_run, media, tmp_path):
    open_model(browser, server, "video")
    by_id(browser, "input-frames").send_keys(str(media["clip"]))
    answer(browser, tmp_path / "video.png")
    expected = rnn_apps.predict(video_run, [str(media["clip"])])[0]["labels"]
    assert [cell.get_attribute("textContent") for cell in browser.find_elements("css selector", ".step-label")] == expected


def translate_with(browser, way: str, screenshot: Path) -> None:
    """Pick a way of decoding (``greedy``; ``beam`` with 3 beams) and translate ``SOURCE``."""
    by_id(browser, f"decoding-{way}").click()
    if way == "beam":
        assert by_id(browser, "param-beam").get_attribute("value") == "4", "picking beam search starts at 4 beams"
        by_id(browser, "param-beam").clear()
        by_id(browser, "param-beam").send_keys("3")
    answer(browser, screenshot)


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_translate_greedy_and_beam_give_predicts_translation(browser, server, translate_run, tmp_path):
    open_model(browser, server, "translate")
    by_id(browser, "input-source").send_keys(SOURCE)
    for way, options in (("greedy", {}), ("beam", {"beam": 3}), ("greedy", {})):  # and back: the beam is not sent
        translate_with(browser, way, tmp_path / f"translate-{way}.png")
        expected = rnn_apps.predict(translate_run, [SOURCE], **options)[0]
        assert by_id(browser, "answer").get_attribute("textContent") == expected["translation"], way
        shown = by_id(browser, "result").text
        assert f"{len(expected['tokens'])} tokens" in shown
        if options:
            assert f"log p {expected['log_probability']:.2f}" in shown
        else:
            assert "log p" not in shown


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_translate_draws_the_attention_heatmap(browser, server, translate_run, tmp_path):
    open_model(browser, server, "translate")
    by_id(browser, "input-source").send_keys(SOURCE)
    for way, options in (("greedy", {}), ("beam", {"beam": 3})):
        translate_with(browser, way, tmp_path / f"attention-{way}.png")
        holder = by_id(browser, "attention-map")
        assert holder.get_attribute("data-state") == "done", holder.text
        expected = rnn_apps.predict(translate_run, [SOURCE], **options)[0]
        canvas = by_id(browser, "attention")
        assert canvas.tag_name == "canvas" and canvas.size["width"] > 0 and canvas.size["height"] > 0
        assert int(canvas.get_attribute("data-rows")) == len(expected["tokens"]) + 1  # and [END]
        painted = "const d = arguments[0].getContext('2d').getImageData(0, 0, arguments[0].width, " \
                  "arguments[0].height).data; return d.some(v => v > 0);"
        assert browser.execute_script(painted, canvas), "the canvas is blank"


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_tag_marks_the_entities_predict_finds(browser, server, tag_entities_run, tmp_path):
    """The sentence with each entity in a mark with its type (as ``rnn-apps predict`` prints
    it), then each token's label: both exactly predict's."""
    open_model(browser, server, "tag")
    def text(selector: str) -> list[str]:
        return [e.get_attribute("textContent") for e in browser.find_elements("css selector", selector)]

    marked = 0
    for i, sentence in enumerate(TAGGED):
        by_id(browser, "input-sentence").clear()
        by_id(browser, "input-sentence").send_keys(sentence)
        answer(browser, tmp_path / f"tag-{i + 1}.png")
        expected = rnn_apps.predict(tag_entities_run, [sentence])[0]
        assert text(".step-cell") == expected["tokens"]
        assert text(".step-label") == expected["labels"]
        entities = [{"type": m.get_attribute("data-type"), "start": int(m.get_attribute("data-start")),
                     "end": int(m.get_attribute("data-end")),
                     "text": m.find_element("css selector", ".entity-text").get_attribute("textContent")}
                    for m in browser.find_elements("css selector", "#answer mark.entity")]
        assert entities == expected["entities"]
        assert text("#answer mark.entity .entity-type") == [e["type"] for e in expected["entities"]]
        words = "const a = document.getElementById('answer').cloneNode(true); " \
                "a.querySelectorAll('.entity-type').forEach(t => t.remove()); return a.textContent;"
        assert " ".join(browser.execute_script(words).split()) == " ".join(expected["tokens"])
        marked += len(entities)
    assert marked, "the run marked no entity in these sentences: the page had nothing to mark"


@pytest.mark.slow  # in make test / CI; out of the quick default suite
@needs_browser
def test_browser_textgen_streams_the_text_generate_gives(browser, server, textgen_run, tmp_path):
    open_model(browser, server, "textgen")
    by_id(browser, "input-text").send_keys("ROSA:")
    for name, value in (("length", "60"), ("temperature", "0.8"), ("seed", "7")):
        by_id(browser, f"param-{name}").send_keys(value)
    answer(browser, tmp_path / "textgen.png")
    expected = rnn_apps.generate(textgen_run, "ROSA:", 60, temperature=0.8, seed=7)["samples"][0]
    assert by_id(browser, "generated").get_attribute("textContent") == expected


# --- graceful shutdown ---------------------------------------------------------------------------
@pytest.mark.slow  # in make test / CI; out of the quick default suite
def test_sigterm_lets_the_request_in_flight_finish_then_exits(sentiment_tflite, tmp_path):
    """``rnn-apps serve`` on SIGTERM stops accepting connections at once, answers the request
    it holds (here waiting 3 s for its batch to fill) and exits within uvicorn's 10 s grace,
    with status 0: a stop that was asked for, as TF Serving ends (Kubernetes, systemd and
    Docker count it a clean stop), not "terminated by SIGTERM" (-15), which uvicorn's re-raised
    signal would give."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    log = (tmp_path / "serve.log").open("w")
    command = [sys.executable, "-m", "rnn_apps.cli.main", "serve", f"lite={sentiment_tflite}", "--port", str(port),
               "--max-batch-size", "8", "--batch-timeout-ms", "3000"]
    environment = {k: v for k, v in os.environ.items() if k != "RNN_APPS_API_KEY"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path, env=environment)
    url = f"http://127.0.0.1:{port}"
    expected = rnn_apps.load(sentiment_tflite).predict([SENTENCE])[0]
    try:
        wait_ready(url, timeout=120, process=process)
        answered: dict = {}

        def ask():
            answered["response"] = httpx.post(f"{url}/v1/models/lite:predict", json={"instances": [SENTENCE]},
                                              timeout=30)
            answered["at"] = time.monotonic()

        in_flight = threading.Thread(target=ask)
        in_flight.start()
        time.sleep(0.5)  # the request now waits in the batcher
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.5)
        with pytest.raises(httpx.ConnectError):  # no new connections once shutting down
            httpx.get(f"{url}/v2/health/live", timeout=2)
        in_flight.join(timeout=30)
        assert process.wait(timeout=30) == 0
        stopped = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    response = answered["response"]
    assert response.status_code == 200, response.text
    assert answered["at"] > signalled + 1, "the request was answered after the signal, not before"
    assert response.json()["predictions"][0]["label"] == expected["label"]
    assert stopped < 10, f"took {stopped:.1f}s to stop"
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


# --- deploy files ---------------------------------------------------------------------------------
def dockerfile(name: str) -> dict:
    """A Dockerfile's instructions by keyword (continuation lines joined), the last of each."""
    text = re.sub(r"\\\n", " ", (DEPLOY / name).read_text())
    found = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.setdefault(keyword.upper(), []).append(rest.strip())
    return found


def serve_params(argv: list[str]) -> dict:
    """``rnn-apps serve``'s parameters for ``argv`` (after ``serve``), parsed by the CLI itself:
    an option it does not have fails here."""
    from rnn_apps.cli.serve import serve

    with serve.make_context("serve", list(argv)) as context:
        return context.params


def serve_argv(name: str) -> list[str]:
    """What the container runs: ENTRYPOINT then CMD, both in exec (JSON) form."""
    found = dockerfile(name)
    entrypoint, cmd = json.loads(found["ENTRYPOINT"][-1]), json.loads(found["CMD"][-1])
    assert entrypoint[:2] == ["rnn-apps", "serve"], entrypoint
    return entrypoint[2:] + cmd


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.lite"])
def test_dockerfiles_serve_on_the_port_they_expose(name):
    found = dockerfile(name)
    params = serve_params(serve_argv(name))
    assert params["host"] == "0.0.0.0", "in a container the server must listen beyond loopback"
    assert found["EXPOSE"] == [str(params["port"])]
    assert params["targets"] == ("/models/model",)
    assert f"127.0.0.1:{params['port']}/v2/health/" in found["HEALTHCHECK"][-1]
    install = " ".join(found["RUN"])
    if name == "Dockerfile":
        assert "'.[serve]'" in install
    else:
        assert "--no-deps ." in install and "requirements-lite.txt" in install and "tensorflow" not in install.replace(
            '"import tensorflow"', "")


def test_k8s_probes_and_ports_are_routes_and_options_of_the_server():
    deployment, service = yaml.safe_load_all((DEPLOY / "k8s.yaml").read_text())
    assert (deployment["kind"], service["kind"]) == ("Deployment", "Service")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    entrypoint = json.loads(dockerfile("Dockerfile")["ENTRYPOINT"][-1])[2:]
    params = serve_params(entrypoint + container["args"])  # args replace the image's CMD
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": params["port"]}
    routes = {route.path for route in create_app({}).routes}
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in routes
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] in ports
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert grace >= pre_stop + 10, "the pod must outlive the preStop pause and the server's 10 s grace"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert all(any(t.split("=")[-1].startswith(m) for m in mounts) for t in params["targets"])


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(names: set[str]) -> set[str]:
    """``names`` and everything they require, by the installed packages' metadata (extras left out)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = importlib.metadata.requires(name) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        todo += [normalized(re.match(r"[A-Za-z0-9_.-]+", r).group()) for r in requires if "extra ==" not in r]
    return seen


LITE_SERVER = """
import importlib.abc, importlib.metadata, json, sys
allowed = set(json.loads(sys.argv[1]))
owners = importlib.metadata.packages_distributions()

class OnlyTheLiteImage(importlib.abc.MetaPathFinder):
    # refuses any package the lite image would not have (the standard library passes)
    def find_spec(self, name, path=None, target=None):
        dists = {d.lower().replace("_", "-").replace(".", "-") for d in owners.get(name.split(".")[0], [])}
        if dists and not dists & allowed:
            raise ModuleNotFoundError(f"{name} ({', '.join(sorted(dists))}) is not in the lite image", name=name)

sys.meta_path.insert(0, OnlyTheLiteImage())
from pathlib import Path
import numpy as np
import uvicorn
from PIL import Image
from rnn_apps.cli.main import cli                        # what the rnn-apps entry point imports
from rnn_apps.serving.app import ServedModel, create_app
uvicorn.Config(create_app({}), log_level="warning").load()  # uvicorn's protocol and lifespan modules
for name, path in zip(("text", "vqa"), sys.argv[2:]):
    model = ServedModel(name, Path(path))
    model.load()
    assert model.state == "AVAILABLE", model.error
Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save("scene.png")
print(json.dumps(model.predictor.predict([{"image": "scene.png", "question": "is it red ?"}])[0]["label"]))
"""


def lite_requirements() -> dict[str, str]:
    """deploy/requirements-lite.txt as ``{name: version specifier}``."""
    lines = [line.split("#")[0].strip() for line in (DEPLOY / "requirements-lite.txt").read_text().splitlines()]
    return dict(re.match(r"([A-Za-z0-9_.-]+)(.*)", line).groups() for line in lines if line)


def test_the_lite_image_has_what_a_tf_free_server_needs_and_no_tensorflow(sentiment_tflite, vqa_tflite, tmp_path):
    """With only deploy/requirements-lite.txt, what its packages require and rnn-apps itself
    importable (every other installed package refused), ``rnn-apps serve``'s code loads TFLite
    exports (text and a picture task) and answers; no TensorFlow or Keras is among them, and
    the pins are setup.cfg's."""
    pins = lite_requirements()
    allowed = requirement_closure({normalized(name) for name in pins}) | {"rnn-apps"}
    assert not allowed & {"tensorflow", "tensorflow-cpu", "keras", "tf-keras"}
    result = subprocess.run([sys.executable, "-c", LITE_SERVER, json.dumps(sorted(allowed)), str(sentiment_tflite),
                             str(vqa_tflite)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    declared = setup["options"]["install_requires"] + setup["options.extras_require"]["serve"]
    for line in declared.split("\n"):
        match = re.match(r"([A-Za-z0-9_.-]+)(.*)", line.strip())
        name = match and next((n for n in pins if normalized(n) == normalized(match.group(1))), None)
        if name:
            assert pins[name] == match.group(2), f"{name}: {pins[name]} here, {match.group(2)} in setup.cfg"


def test_the_serving_docs_name_the_page_and_the_deploy_files():
    docs = (ROOT / "docs" / "serving.md").read_text()
    for name in ("/ui/NAME", "deploy/Dockerfile", "deploy/Dockerfile.lite", "deploy/k8s.yaml", "SIGTERM"):
        assert name in docs, name
