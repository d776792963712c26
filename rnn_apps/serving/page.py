"""A web page per served model, in the same server as the REST API (``rnn-apps serve``).

``GET /`` lists the models; ``GET /ui/NAME`` is a form for one model. Both are the same
self-contained HTML page (no CDN, no external font or script: it works offline), which asks
the API what to draw: ``GET /ui/NAME/view`` (``view`` below) gives the model's inputs by kind
and its output kind, and the page builds its form and its answer from those, so a new task
with known kinds needs nothing here:

* inputs: ``text`` -> a text box; ``image`` -> a picture file picker (PNG, JPEG, GIF, BMP);
  ``frames`` -> a clip file picker (``.npy``); files travel as ``{"b64": ...}``.
* outputs: ``label`` -> the label and one probability bar per label (or the five best);
  ``sequence`` -> the sentence (translation, caption); ``labels_per_step`` -> a label per
  frame or word, with the segments or entities; ``next_token`` -> the prompt and the text
  streaming in from ``:generate_stream``.

The page shell holds no model data and needs no API key (a browser cannot send one when it
follows a link); every call it makes (``/v1/models``, ``/ui/NAME/view``, ``:predict``,
``:generate_stream``) goes through the key check, with the key typed into the page's field.
"""
from __future__ import annotations

import re
from typing import Any

from rnn_apps.options import OPTIONS

# The shell may load resources from this server only; scripts and styles are inline.
HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
                                      "style-src 'unsafe-inline'; img-src 'self' data: blob:",
           "X-Content-Type-Options": "nosniff"}
# Options that write files on the server: the CLI's, never the page's.
FILE_OPTIONS = ("plot", "attention_plot")
GENERATE_HELP = {"length": "characters (or words) to generate",
                 "greedy": "always take the most likely token (no sampling)"}
_PUBLIC = re.compile(r"/|/ui/[A-Za-z0-9_-]+/?")


def is_public(path: str) -> bool:
    """True for the page shell (``/``, ``/ui/NAME``), which the API key does not guard:
    it is the same static page for every model and shows nothing until the API answers."""
    return _PUBLIC.fullmatch(path) is not None


def parameter(name: str, kind: type) -> dict:
    """One option as the page's form shows it: ``{"name", "type": int|float|bool, "help",
    "min"?, "max"?}`` (bounds and help from ``rnn_apps.options`` where it has the option)."""
    option = OPTIONS.get(name)
    field = {"name": name, "type": kind.__name__,
             "help": option.help if option else GENERATE_HELP.get(name, "")}
    for bound in ("min", "max"):
        if option is not None and getattr(option, bound) is not None:
            field[bound] = getattr(option, bound)
    return field


def parameters(model: Any, generate_options: dict[str, type]) -> list[dict]:
    """The options the page offers: ``:generate``'s for a language model, else the model's
    predict options that do not write files."""
    if model.output_kind == "next_token":
        return [parameter(name, kind) for name, kind in generate_options.items()]
    return [parameter(name, OPTIONS[name].type) for name in model.options
            if name not in FILE_OPTIONS and name in OPTIONS]


def view(model: Any, generate_options: dict[str, type]) -> dict:
    """What the page needs to draw one model (a ``ServedModel`` that is available).

    Returns:
        ``{"name", "task", "output": the output kind, "noun": the result key of a sequence
        ("translation", "caption"; "" otherwise), "inputs": [{"name", "kind"}] in the
        model's order, "parameters": [parameter(...)], "method": "predict" or
        "generate_stream"}``.
    """
    return {"name": model.name, "task": model.task, "output": model.output_kind,
            "noun": getattr(model.predictor.output, "noun", "") or "",
            "inputs": [{"name": name, "kind": kind} for name, kind in model.kinds.items()],
            "parameters": parameters(model, generate_options),
            "method": "generate_stream" if model.output_kind == "next_token" else "predict"}


PAGE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rnn-apps</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 1.5rem auto; padding: 0 1rem; color: #222; }
 h1 { font-size: 1.4rem; } h1 a { color: inherit; text-decoration: none; }
 label { display: block; margin: .6rem 0 .2rem; font-weight: 600; }
 textarea { width: 100%; min-height: 4rem; font: inherit; }
 .params { display: flex; flex-wrap: wrap; gap: .2rem 1rem; } .params label { font-weight: 400; }
 .params input[type=number] { width: 6rem; }
 button { display: block; margin: .8rem 0; padding: .4rem 1.2rem; font: inherit; }
 .key { float: right; font-size: .85rem; } .key input { width: 10rem; }
 .error { color: #b00020; white-space: pre-wrap; } .hint { color: #666; font-size: .85rem; }
 .answer { font-size: 1.3rem; font-weight: 600; white-space: pre-wrap; }
 .bar-row { display: grid; grid-template-columns: 10rem 1fr 4.5rem; gap: .5rem; align-items: center; margin: .15rem 0; }
 .bar { background: #e4e8f0; height: 1rem; } .bar span { display: block; height: 100%; background: #3b6fd8; }
 .strip { overflow-x: auto; } .steps { border-collapse: collapse; font-size: .85rem; } .steps td, .steps th { border: 1px solid #ccc; padding: .1rem .3rem; }
 img.preview { max-width: 12rem; image-rendering: pixelated; display: block; margin-top: .3rem; }
 .generated { white-space: pre-wrap; font-family: ui-monospace, monospace; }
</style></head>
<body>
<div class="key"><label>API key <input id="api-key" type="password" autocomplete="off"></label></div>
<h1><a href="/">rnn-apps</a> <span id="title"></span></h1>
<main id="main"><p class="hint">loading...</p></main>
<script>
"use strict";
// One page for every model: it draws the form from the model's input kinds and the answer
// from its output kind (GET /ui/NAME/view), and calls the REST API with the key typed above.
const main = document.getElementById("main"), keyField = document.getElementById("api-key");
keyField.value = sessionStorage.getItem("rnn-apps-key") || "";
keyField.addEventListener("change", () => { sessionStorage.setItem("rnn-apps-key", keyField.value); start(); });

function el(tag, attrs = {}, ...children) {  // an element; text is always set as text, never as HTML
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === "text" ? node.textContent = v : node.setAttribute(k, v);
  node.append(...children);
  return node;
}
function headers() {
  const h = {"Content-Type": "application/json"};
  if (keyField.value) h["X-API-Key"] = keyField.value;
  return h;
}
async function api(path, body) {  // JSON from the API, or an Error carrying its {"error": ...}
  const response = await fetch(path, body === undefined ? {headers: headers()}
                                     : {method: "POST", headers: headers(), body: JSON.stringify(body)});
  if (!response.ok) throw await failure(response);
  return body === undefined || !path.endsWith("_stream") ? response.json() : response;
}
async function failure(response) {
  let message = response.status + " " + response.statusText;
  try { message = (await response.json()).error || message; } catch (e) {}
  if (response.status === 401) message += " (type the server's API key above)";
  return new Error(message);
}
function showError(where, error) { where.replaceChildren(el("p", {class: "error", id: "error", text: String(error.message || error)})); }

// --- the list of models (GET /) ---------------------------------------------------------------
async function listModels() {
  const {models} = await api("/v1/models");
  main.replaceChildren(el("ul", {id: "models"}, ...models.map(m => el("li", {},
    el("a", {href: "/ui/" + encodeURIComponent(m.name), text: m.name}),
    " " + m.task + " (" + m.output + ", " + m.state.toLowerCase() + ")"))));
}

// --- one model's form (GET /ui/NAME) -----------------------------------------------------------
const FIELDS = {  // input kind -> its form field
  text: input => el("textarea", {id: "input-" + input.name, name: input.name}),
  image: input => el("input", {id: "input-" + input.name, name: input.name, type: "file",
                               accept: "image/png,image/jpeg,image/gif,image/bmp"}),
  frames: input => el("input", {id: "input-" + input.name, name: input.name, type: "file", accept: ".npy"}),
};
function parameterField(p) {
  const attrs = {id: "param-" + p.name, name: p.name, title: p.help};
  if (p.type === "bool") return el("label", {}, el("input", {...attrs, type: "checkbox"}), " " + p.name);
  Object.assign(attrs, {type: "number", step: p.type === "int" ? "1" : "any", placeholder: "default"});
  if (p.min !== undefined) attrs.min = p.min;
  if (p.max !== undefined) attrs.max = p.max;
  return el("label", {}, p.name + " ", el("input", attrs));
}
function fileB64(file) {  // a picked file as {"b64": ...}
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve({b64: reader.result.slice(reader.result.indexOf(",") + 1)});
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
async function formValues(view) {  // the row and the parameters the form holds
  const row = {}, parameters = {};
  for (const input of view.inputs) {
    const field = document.getElementById("input-" + input.name);
    if (input.kind === "text") row[input.name] = field.value;
    else if (field.files.length) row[input.name] = await fileB64(field.files[0]);
    else throw new Error("choose a file for " + input.name);
  }
  for (const p of view.parameters) {
    const field = document.getElementById("param-" + p.name);
    if (p.type === "bool") { if (field.checked) parameters[p.name] = true; }
    else if (field.value !== "") parameters[p.name] = Number(field.value);
  }
  return {row, parameters};
}
async function showModel(name) {
  const view = await api("/ui/" + encodeURIComponent(name) + "/view");
  document.getElementById("title").textContent = "/ " + view.name;
  const form = el("form", {id: "form"}), result = el("section", {id: "result"});
  form.append(el("p", {class: "hint", text: view.task + ": " + view.inputs.map(i => i.name + " (" + i.kind + ")").join(", ")
                                           + " \u2192 " + (view.noun || view.output)}));
  for (const input of view.inputs) {
    const field = (FIELDS[input.kind] || FIELDS.text)(input);
    form.append(el("label", {for: field.id, text: view.method === "predict" ? input.name : "prompt"}), field);
    if (input.kind === "image") {
      const preview = el("img", {class: "preview", alt: ""});
      field.addEventListener("change", () => { if (field.files.length) preview.src = URL.createObjectURL(field.files[0]); });
      form.append(preview);
    }
  }
  if (view.parameters.length) form.append(el("div", {class: "params"}, ...view.parameters.map(parameterField)));
  form.append(el("button", {id: "run", type: "submit", text: view.method === "predict" ? "Run" : "Generate"}));
  form.addEventListener("submit", event => { event.preventDefault(); run(view, result); });
  main.replaceChildren(form, result);
}
async function run(view, result) {
  result.dataset.state = "running";
  result.replaceChildren(el("p", {class: "hint", text: "working..."}));
  try {
    const {row, parameters} = await formValues(view);
    if (view.method === "predict") {
      const answer = await api("/v1/models/" + encodeURIComponent(view.name) + ":predict", {instances: [row], parameters});
      result.replaceChildren(...(RESULTS[view.output] || RESULTS.other)(answer.predictions[0], view));
    } else {
      await stream(view, row[view.inputs[0].name], parameters, result);
    }
    result.dataset.state = "done";
  } catch (error) {
    showError(result, error);
    result.dataset.state = "error";
  }
}

// --- answers, by output kind ---------------------------------------------------------------------
function bar(label, p) {
  return el("div", {class: "bar-row", "data-label": label, "data-probability": String(p)},
            el("span", {class: "bar-label", text: label}), el("div", {class: "bar"}, el("span", {style: "width:" + (100 * p) + "%"})),
            el("span", {class: "bar-value", text: (100 * p).toFixed(1) + "%"}));
}
function stepTable(heading, cells, labels) {
  return el("div", {class: "strip"}, el("table", {class: "steps"},
    el("tr", {}, el("th", {text: heading}), ...cells.map(c => el("td", {text: c}))),
    el("tr", {}, el("th", {text: "label"}), ...labels.map(l => el("td", {class: "step-label", text: l})))));
}
const RESULTS = {
  label: r => {
    const shown = r.probabilities ? Object.entries(r.probabilities).sort((a, b) => b[1] - a[1])
                                  : r.top.map(t => [t.label, t.probability]);
    return [el("p", {class: "answer", id: "answer", text: r.label}), el("div", {id: "bars"}, ...shown.map(([l, p]) => bar(l, p)))];
  },
  sequence: (r, view) => [el("p", {class: "answer", id: "answer", text: r[view.noun]}),
                          el("p", {class: "hint", text: (r.tokens || []).length + " tokens"
                                   + (r.log_probability !== undefined ? ", log p " + r.log_probability.toFixed(2) : "")})],
  labels_per_step: r => {
    if (r.tokens) return [el("p", {class: "answer", id: "answer",
                                   text: r.entities.map(e => e.text + " (" + e.type + ")").join(", ") || "no entities"}),
                          stepTable("word", r.tokens, r.labels)];
    return [el("p", {class: "answer", id: "answer",
                     text: r.segments.map(s => s.label + " " + s.start + "\u2013" + s.end).join(", ")}),
            stepTable("frame", r.labels.map((_, i) => String(i)), r.labels)];
  },
  other: r => [el("pre", {class: "answer", id: "answer", text: JSON.stringify(r, null, 1)})],  // a kind this page does not know
};
async function stream(view, prompt, parameters, result) {  // server-sent events from :generate_stream
  const text = el("span", {id: "generated"});
  result.replaceChildren(el("p", {class: "generated", id: "answer"}, el("b", {text: prompt}), text));
  const response = await api("/v1/models/" + encodeURIComponent(view.name) + ":generate_stream", {text_input: prompt, parameters});
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    pending += value;
    const events = pending.split("\n\n");
    pending = events.pop();
    for (const event of events) {
      const data = JSON.parse(event.replace(/^data: /, ""));
      if (data.text_output) text.textContent += data.text_output;
      if (data.done) result.append(el("p", {class: "hint", text: "seed " + data.seed}));
    }
  }
}

function start() {
  const match = location.pathname.match(/^\/ui\/([^/]+)\/?$/);
  (match ? showModel(decodeURIComponent(match[1])) : listModels()).catch(error => showError(main, error));
}
start();
</script>
</body></html>
"""
