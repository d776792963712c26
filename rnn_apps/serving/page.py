"""A web page per served model, in the same server as the REST API (``rnn-apps serve``).

``GET /`` lists the models; ``GET /ui/NAME`` is a form for one model. Both are the same
self-contained HTML page (no CDN, no external font or script: it works offline), which asks
the API what to draw: ``GET /ui/NAME/view`` (``view`` below) gives the model's inputs by kind
and its output kind, and the page builds its form and its answer from those, so a new task
with known kinds needs nothing here:

* inputs: ``text`` -> a text box; ``image`` -> a picture file picker (PNG, JPEG, GIF, BMP);
  ``frames`` -> a clip file picker (``.npy``); files travel as ``{"b64": ...}``.
* outputs: ``label`` -> the label and one probability bar per label (or the five best);
  ``sequence`` -> the sentence (translation, caption), decoded greedily, by beam search or
  by sampling (a choice above the options), and for a text source with attention its
  attention heatmap (``attention`` below: one row per output token, one column per source
  token, drawn on a canvas); ``labels_per_step`` -> for words, the sentence with its
  entities marked (as ``rnn-apps predict`` prints it), for frames the segments, and a
  table of each step's label; ``next_token`` -> the prompt and the text streaming in from
  ``:generate_stream``.

The page shell holds no model data and needs no API key (a browser cannot send one when it
follows a link); every call it makes (``/v1/models``, ``/ui/NAME/view``, ``:predict``,
``:generate_stream``, ``/ui/NAME/attention``) goes through the key check, with the key typed
into the page's field.

The heatmap needs the weights of the output the page shows: the page posts
``{"instances": [row], "ids": prediction's ids}`` to ``POST /ui/NAME/attention``, which
answers ``attention(model, row, ids)``. Where that route is missing the page
still shows the translation, and says that the server sends no map.
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


def has_attention(model: Any) -> bool:
    """True where ``attention`` can draw the model's map: a run (not a TFLite export) whose
    output is a sequence written with attention from a text source (translate)."""
    predictor = model.predictor
    output = getattr(predictor, "output", None)
    return (model.output_kind == "sequence" and hasattr(output, "attention") and hasattr(predictor, "features")
            and model.kinds.get(getattr(output, "source", "")) == "text"
            and getattr(getattr(predictor, "cfg", None), "attention", "none") != "none")


def view(model: Any, generate_options: dict[str, type]) -> dict:
    """What the page needs to draw one model (a ``ServedModel`` that is available).

    Returns:
        ``{"name", "task", "output": the output kind, "noun": the result key of a sequence
        ("translation", "caption"; "" otherwise), "inputs": [{"name", "kind"}] in the
        model's order, "parameters": [parameter(...)], "method": "predict" or
        "generate_stream", "attention": whether the page asks for a heatmap
        (``has_attention``)}``.
    """
    return {"name": model.name, "task": model.task, "output": model.output_kind,
            "noun": getattr(model.predictor.output, "noun", "") or "",
            "inputs": [{"name": name, "kind": kind} for name, kind in model.kinds.items()],
            "parameters": parameters(model, generate_options),
            "method": "generate_stream" if model.output_kind == "next_token" else "predict",
            "attention": has_attention(model)}


def attention(model: Any, row: dict, ids: Any) -> dict:
    """The attention map of one output of a served translation, for the page's heatmap: the
    map ``--attention-plot`` draws (``TokenSequence.attention``), recomputed by feeding the
    decoder the output's own tokens, so a greedy, beam or sampled output gets its own map.

    Args:
        model: a ``ServedModel`` with ``has_attention``; its lock is held while the model runs.
        row: the inputs by name as ``:predict`` reads them (``{"source": "the sentence"}``).
        ids: the output's ``ids`` as ``:predict`` answered them.
    Returns:
        ``{"weights": [outputs + END][source tokens] (4 decimals), "source_tokens",
        "target_tokens": the output's tokens and [END]}``; each row sums to 1.
    Raises:
        UserError: the model has no map to give, or ``row`` / ``ids`` are not what
        ``:predict`` takes and gives (the server answers 400).
    """
    from rnn_apps.errors import UserError

    if not has_attention(model):
        raise UserError(f"{model.name} has no attention map to draw (only a translate run trained with attention "
                        f"has; TFLite exports give none)")
    output = model.predictor.output
    value = row.get(output.source) if isinstance(row, dict) else None
    if not isinstance(value, str):
        raise UserError(f"{output.source}: a sentence (a string)")
    vocabulary = output.vocab_size
    limit = output.cfg.max_length + 1
    if not isinstance(ids, list) or len(ids) > limit or \
            not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < vocabulary for i in ids):
        raise UserError(f"ids: the output's ids from :predict, at most {limit} integers in 0..{vocabulary - 1}")
    with model.lock:
        found = output.attention(model.predictor.model, model.predictor.features, value, ids)
    source, target = found["source_tokens"], found["target_tokens"]
    weights = [[round(float(w), 4) for w in row[:len(source)]] for row in found["weights"][:len(target)]]
    return {"weights": weights, "source_tokens": list(source), "target_tokens": list(target)}


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
 fieldset.decoding { border: 1px solid #ccc; margin: .6rem 0 .2rem; padding: .2rem .6rem .4rem; }
 fieldset.decoding label { display: inline; font-weight: 400; margin-right: 1rem; }
 .params label.idle { opacity: .45; }
 .marked { line-height: 2.1; }
 mark.entity { padding: .1rem .3rem; border-radius: .3rem; }
 mark.entity .entity-type { font-size: .7rem; font-weight: 700; margin-left: .3rem; vertical-align: middle; }
 .heatmap { overflow-x: auto; margin-top: .5rem; } .heatmap canvas { display: block; }
 .scale { display: inline-block; width: 8rem; height: .7rem; vertical-align: middle;
          background: linear-gradient(to right, #440154, #3b528b, #21918c, #5ec962, #fde725); }
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
// Sequence models decode one way at a time: each way's options, and the value a way starts
// with when it is picked with its field empty (beam search needs a width, sampling a temperature).
const DECODING = {greedy: {}, beam: {beam: 4, length_penalty: undefined},
                  sample: {temperature: 1, top_k: undefined, top_p: undefined, seed: undefined}};
function decodingOf(name) { return Object.keys(DECODING).find(way => name in DECODING[way]); }
function decodingChoice(view) {  // radio buttons greedy | beam | sample, where the model takes both
  const names = view.parameters.map(p => p.name);
  if (!names.includes("beam") || !names.includes("temperature")) return null;
  return el("fieldset", {class: "decoding", id: "decoding"}, el("legend", {text: "decoding"}),
            ...Object.keys(DECODING).map(way => el("label", {}, el("input", {type: "radio", name: "decoding", value: way,
              id: "decoding-" + way, ...(way === "greedy" ? {checked: ""} : {})}), " " + way)));
}
function chosenDecoding(form) {
  const picked = form.querySelector("input[name=decoding]:checked");
  return picked ? picked.value : null;
}
function showDecoding(form, way, fill) {  // dims the options of the other ways; fills a picked way's empty field
  for (const [name, start] of Object.entries(DECODING[way])) {
    const field = form.querySelector("#param-" + name);
    if (fill && field && field.value === "" && start !== undefined) field.value = start;
  }
  for (const field of form.querySelectorAll(".params input")) {
    const owner = decodingOf(field.name);
    field.closest("label").classList.toggle("idle", owner !== undefined && owner !== way);
  }
}
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
  const way = chosenDecoding(document.getElementById("form"));
  for (const p of view.parameters) {
    const field = document.getElementById("param-" + p.name), owner = decodingOf(p.name);
    if (way && owner !== undefined && owner !== way) continue;  // another way's option: not sent
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
  const choice = decodingChoice(view);
  if (choice) form.append(choice);
  if (view.parameters.length) form.append(el("div", {class: "params"}, ...view.parameters.map(parameterField)));
  if (choice) {
    choice.addEventListener("change", () => showDecoding(form, chosenDecoding(form), true));
    for (const field of form.querySelectorAll(".params input")) {  // typing a way's option picks that way
      field.addEventListener("input", () => {
        const owner = decodingOf(field.name);
        if (owner && owner !== chosenDecoding(form)) { form.querySelector("#decoding-" + owner).checked = true; showDecoding(form, owner, false); }
      });
    }
    showDecoding(form, "greedy", false);
  }
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
      if (view.attention && answer.predictions[0].ids) await attentionMap(view, row, answer.predictions[0], result);
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
function stepTable(heading, cells, labels, confidence) {
  return el("div", {class: "strip"}, el("table", {class: "steps"},
    el("tr", {}, el("th", {text: heading}), ...cells.map(c => el("td", {class: "step-cell", text: c}))),
    el("tr", {}, el("th", {text: "label"}), ...labels.map(l => el("td", {class: "step-label", text: l}))),
    ...(confidence ? [el("tr", {}, el("th", {text: "p"}), ...confidence.map(p => el("td", {class: "step-p", text: p.toFixed(2)})))] : [])));
}
const ENTITY_COLOURS = ["#ffd8a8", "#c3fae8", "#d0bfff", "#ffc9c9", "#b2f2bb", "#a5d8ff", "#fcc2d7", "#ffec99"];
function entityColour(type) {  // the same colour for a type on every page
  let h = 0;
  for (const c of type) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return ENTITY_COLOURS[h % ENTITY_COLOURS.length];
}
function markedSentence(r) {  // the tokens, each entity's in a <mark> with its type after them
  const sentence = el("p", {class: "answer marked", id: "answer"});
  let at = 0;
  for (const e of r.entities) {
    if (e.start > at) sentence.append(r.tokens.slice(at, e.start).join(" ") + " ");
    sentence.append(el("mark", {class: "entity", "data-type": e.type, "data-start": String(e.start), "data-end": String(e.end),
                                style: "background:" + entityColour(e.type)},
                       el("span", {class: "entity-text", text: r.tokens.slice(e.start, e.end + 1).join(" ")}),
                       el("span", {class: "entity-type", text: e.type})), " ");
    at = e.end + 1;
  }
  sentence.append(r.tokens.slice(at).join(" "));
  return sentence;
}
const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function viridis(w) {  // a weight in 0..1 as a colour of the viridis scale (dark: little, yellow: much)
  const x = Math.min(Math.max(w, 0), 1) * (VIRIDIS.length - 1), i = Math.min(Math.floor(x), VIRIDIS.length - 2), f = x - i;
  return "rgb(" + VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c))).join(",") + ")";
}
function heatmap(map) {  // one row per output token, one column per source token, labelled on a canvas
  const {weights, source_tokens: source, target_tokens: target} = map;
  const canvas = el("canvas", {id: "attention", role: "img", "data-rows": String(target.length), "data-columns": String(source.length),
                               "aria-label": "attention of each output token (rows) over the source tokens (columns)"});
  const g = canvas.getContext("2d"), font = "12px system-ui, sans-serif";
  g.font = font;
  const widest = tokens => Math.max(0, ...tokens.map(t => g.measureText(t).width));
  const cell = Math.max(8, Math.min(22, Math.floor(640 / Math.max(source.length, 1)))), gap = 6;
  const left = Math.ceil(widest(target)) + gap, top = Math.ceil(widest(source) * Math.SQRT1_2) + 14;  // slanted labels
  const width = left + cell * source.length + top, height = top + cell * target.length + 2, scale = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(width * scale); canvas.height = Math.ceil(height * scale);
  canvas.style.width = width + "px"; canvas.style.height = height + "px";
  g.scale(scale, scale);
  g.font = font; g.fillStyle = "#222"; g.textBaseline = "middle";
  g.textAlign = "right";
  target.forEach((t, i) => g.fillText(t, left - gap, top + (i + .5) * cell));
  g.textAlign = "left";
  source.forEach((t, j) => {  // column labels slanted up and to the right
    g.save(); g.translate(left + (j + .5) * cell, top - 4); g.rotate(-Math.PI / 4); g.fillText(t, 0, 0); g.restore();
  });
  weights.forEach((row, i) => row.forEach((w, j) => { g.fillStyle = viridis(w); g.fillRect(left + j * cell, top + i * cell, cell, cell); }));
  canvas.addEventListener("mousemove", event => {  // the weight under the pointer, as the tooltip
    const box = canvas.getBoundingClientRect(), j = Math.floor((event.clientX - box.left - left) / cell), i = Math.floor((event.clientY - box.top - top) / cell);
    canvas.title = i >= 0 && j >= 0 && i < target.length && j < source.length
      ? target[i] + " \u2192 " + source[j] + ": " + weights[i][j].toFixed(3) : "";
  });
  return canvas;
}
async function attentionMap(view, row, prediction, result) {  // the heatmap of the output shown, under it
  const holder = el("div", {class: "heatmap", id: "attention-map", "data-state": "loading"}, el("p", {class: "hint", text: "attention..."}));
  result.append(holder);
  try {
    const map = await api("/ui/" + encodeURIComponent(view.name) + "/attention", {instances: [row], ids: prediction.ids});
    holder.replaceChildren(el("p", {class: "hint"}, "attention of each output token over the source: 0 ", el("span", {class: "scale"}), " 1"),
                           heatmap(map));
    holder.dataset.state = "done";
  } catch (error) {
    holder.replaceChildren(el("p", {class: "hint", id: "attention-error", text: "no attention map: " + error.message}));
    holder.dataset.state = "error";
  }
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
    if (r.tokens) return [markedSentence(r),
                          el("p", {class: "hint", id: "entities", text: r.entities.length ? r.entities.length + " entities: "
                                   + r.entities.map(e => e.text + " (" + e.type + ")").join(", ") : "no entities"}),
                          stepTable("word", r.tokens, r.labels, r.confidence)];
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
