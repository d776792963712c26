"""Run a TFLite export end to end without TensorFlow or Keras: tokenize, run, decode.

An export folder (``rnn-apps export RUN --format tflite``) holds ``model.tflite``, the
vocabularies and ``manifest.json``; the manifest says everything a device app needs (the
signatures with their tensor names, shapes and dtypes, how text was tokenized, the output
kind with its labels or decoding ids, and a SHA-256 of every file). ``load`` checks the
files against it and returns the runner of the export's output kind:

* ``Classifier`` ("label"): text -> ids ``[1, length]`` -> ``classify`` -> probabilities;
* ``LanguageModel`` ("next_token"): the prompt through ``step`` one token at a time with
  the states carried, then greedy or sampled generation, 16 tokens per call of ``steps``
  where the export has it (each token checked in NumPy: the text of the one-step loop);
* ``Translator`` ("sequence"): ``encode`` once, then ``decode_step`` per token: greedy,
  sampling or beam search;
* ``StepLabeler`` ("labels_per_step"): a clip or a sentence through ``label_steps``, a label
  per frame or token (probabilities, or a CRF's Viterbi tags computed in the model).

Images and clips are read with ``rnn_apps.data.media`` (PIL, OpenCV), decoded, converted
and resized exactly as the training pipeline did.

Their ``predict`` returns what ``rnn_apps.predict`` returns for the run, so the CLI
serves a run directory and an export alike. The interpreter is ``ai-edge-litert``.
"""
from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from rnn_apps.decoding.settings import Decoding, Sampling
from rnn_apps.errors import UserError
from rnn_apps.lite import decoding
from rnn_apps.lite.text import SubwordTokenizer, TokenTokenizer, VectorizerTokenizer
from rnn_apps.options import checked
from rnn_apps.outputs.results import continuation_result, label_result, sequence_result

MANIFEST = "manifest.json"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict:
    """The manifest of an export folder, with every file it lists present and unchanged."""
    path = directory / MANIFEST
    if not path.is_file():
        raise UserError(f"{directory} is not an rnn-apps TFLite export (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "tflite" or \
            not isinstance(manifest.get("files"), dict):
        raise UserError(f"{path}: not the manifest of an rnn-apps TFLite export")
    for key, kind in (("task", str), ("model", str), ("signatures", dict), ("inputs", dict), ("output", dict)):
        if not isinstance(manifest.get(key), kind):
            what = "string" if kind is str else "object"
            raise UserError(f"{path} is damaged: {key!r} is missing or not a JSON {what}")
    for name, digest in manifest["files"].items():
        if not _plain_name(name):  # the files of an export are beside its manifest, nowhere else
            raise UserError(f"{path} is damaged: it lists {name!r}, not a file of the export folder")
        if not (directory / name).is_file():
            raise UserError(f"{directory / name} is missing (the export lists it in {MANIFEST})")
        if (directory / name).resolve().parent != directory.resolve():
            raise UserError(f"{directory / name} leads outside the export folder (a link); an export's files "
                            f"sit beside its {MANIFEST}")
        if not isinstance(digest, str) or sha256(directory / name) != digest:
            raise UserError(f"{directory / name} is not the file this export was made with (its SHA-256 differs): "
                            f"a vocabulary or model from another export, or a damaged copy")
    for where, name in manifest_paths(manifest):  # every path it names is one of the files it hashes
        if not _plain_name(name) or name not in manifest["files"]:
            raise UserError(f"{path} is damaged: {where} is {name!r}, not one of the files it lists and hashes "
                            f"beside it")
    return manifest


def _plain_name(name: Any) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name and "\\" not in name


def manifest_paths(manifest: dict) -> list[tuple[str, Any]]:
    """Every file name the manifest refers to, with where: the model and the vocabularies."""
    found = [('"model"', manifest["model"])]
    for side, settings in [*((f'input {n!r}', s) for n, s in manifest["inputs"].items()),
                           ("the output", manifest["output"])]:
        if not isinstance(settings, dict):
            raise UserError(f"manifest.json is damaged: {side} is not a JSON object")
        found += [(f"{side} {key!r}", settings[key]) for key in ("vocabulary", "model", "chars") if key in settings]
    return found


MAX_OUTPUT_LENGTH = 100_000  # tokens one translation may run to (a manifest saying more is damaged)


def model_signatures(interpreter: Any) -> dict:
    """``{signature: {"inputs": {name: {shape, dtype}}, "outputs": {...}}}`` as LiteRT sees them."""
    described = {}
    for name in interpreter.get_signature_list():
        runner = interpreter.get_signature_runner(name)
        described[name] = {side: {key: {"shape": [int(d) for d in detail["shape"]],
                                        "dtype": np.dtype(detail["dtype"]).name}
                                  for key, detail in sorted(details.items())}
                           for side, details in (("inputs", runner.get_input_details()),
                                                 ("outputs", runner.get_output_details()))}
    return described


def embedding_rows(model: bytes) -> int | None:
    """The most rows of any embedding table in a TFLite model: the constant 2-D table a
    ``GATHER`` reads (directly, or through a ``DEQUANTIZE`` of float16 weights). A token id
    at or past it is outside every table. None where the model has no such table."""
    from ai_edge_litert import schema_py_generated as schema

    root = schema.Model.GetRootAs(model, 0)
    codes = [max(root.OperatorCodes(i).BuiltinCode(), root.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(root.OperatorCodesLength())]
    found = []
    for g in range(root.SubgraphsLength()):
        graph = root.Subgraphs(g)
        made_by = {}
        ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
        for op in ops:
            for k in range(op.OutputsLength()):
                made_by[op.Outputs(k)] = op
        for op in ops:
            if codes[op.OpcodeIndex()] != schema.BuiltinOperator.GATHER:
                continue
            table = op.Inputs(0)
            source = made_by.get(table)
            if source is not None and codes[source.OpcodeIndex()] == schema.BuiltinOperator.DEQUANTIZE:
                table = source.Inputs(0)
            tensor = graph.Tensors(table)
            buffer = root.Buffers(tensor.Buffer())
            if tensor.ShapeLength() == 2 and (buffer.DataLength() > 0 or buffer.Size() > 0):
                found.append(int(tensor.Shape(0)))
    return max(found) if found else None


def vocabulary_size(tokens: Any) -> int:
    """How many ids a tokenizer gives (padding and [UNK] included)."""
    return len(getattr(tokens, "id_tokens", None) or tokens.vocabulary)


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


def tokenizer(directory: Path, settings: dict):
    """The TF-free tokenizer an input (or a sequence output) was trained with."""
    path = directory / settings["vocabulary"]
    if settings["tokenizer"] == "subwords":  # its JSON names the SentencePiece model: one of the export's files
        model = json.loads(path.read_text(encoding="utf-8")).get("model")
        if model != settings.get("model"):
            raise UserError(f"{path} names the subword model {model!r}, the manifest {settings.get('model')!r}")
    if settings["tokenizer"] == "vectorizer":
        return VectorizerTokenizer.from_file(path)
    if settings["tokenizer"] == "subwords":
        return SubwordTokenizer.from_file(path, lowercase=settings["lowercase"], max_length=settings["max_length"],
                                          end_token=settings.get("end_token"))
    return TokenTokenizer.from_file(path, lowercase=settings["lowercase"], max_length=settings["max_length"],
                                    end_token=settings.get("end_token"))


class TextArrays:
    """A text input: ``{name_ids: [1, static_length] int32}``, tokenized as in training, and
    with ``chars_per_token`` in its settings ``{name_chars: [1, static_length, chars_per_token]}``,
    each token's first characters (a tagger's char-CNN reads them)."""

    def __init__(self, directory: Path, name: str, settings: dict):
        self.name, self.settings, self.tokenizer = name, settings, tokenizer(directory, settings)
        self.chars = TokenTokenizer.from_file(directory / settings["chars"]) if settings.get("chars") else None

    def text(self, value: Any) -> str:
        """The value as the text the tokenizer reads (JSON for a non-string, normalised)."""
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if self.settings.get("unicode_form", "none") != "none":
            text = unicodedata.normalize(self.settings["unicode_form"], text)
        return text

    def tokens(self, value: Any) -> list[str]:
        """The value's tokens as written (case kept), split as the tokenizer splits them."""
        from rnn_apps.lite.text import tokenize

        return tokenize(self.text(value), self.settings.get("level", "word"))

    def __call__(self, value: Any) -> dict[str, np.ndarray]:
        text = self.text(value)
        ids, length = self.tokenizer.ids(text), self.settings["static_length"]
        if len(ids) > length:  # cut, keeping the end token last where there is one
            ids = ids[:length - 1] + ids[-1:] if self.settings.get("end_token") else ids[:length]
        arrays = {f"{self.name}_ids": np.array([ids + [0] * (length - len(ids))], np.int32)}
        if self.chars is not None:
            from rnn_apps.lite.text import spelled_tokens

            arrays[f"{self.name}_chars"] = np.array(spelled_tokens(self.tokenizer.tokens(text), self.chars,
                                                                   self.settings["chars_per_token"], length), np.int32)
        return arrays


class ImageArrays:
    """An image input: a file (or uint8 array) -> ``{name: [1, size, size, channels]}`` float 0..1,
    decoded, converted and resized exactly as the training pipeline did (``rnn_apps.data.media``)."""

    def __init__(self, directory: Path, name: str, settings: dict):
        self.name, self.size, self.channels = name, settings["size"], settings["channels"]

    def __call__(self, value: Any) -> dict[str, np.ndarray]:
        from rnn_apps.data import media

        pixels = np.asarray(value) if isinstance(value, np.ndarray) else media.read_image(Path(value), 3)
        return {self.name: media.fit_pictures(pixels, self.size, self.channels)[None]}


class FramesArrays(ImageArrays):
    """A clip input -> ``{name: [1, max_frames, size, size, C], name_mask: [1, max_frames]}``."""

    def __init__(self, directory: Path, name: str, settings: dict):
        super().__init__(directory, name, settings)
        self.frames = settings["static_length"]

    def __call__(self, value: Any) -> dict[str, np.ndarray]:
        from rnn_apps.data import media

        clip = np.asarray(value) if isinstance(value, np.ndarray) else media.read_clip(Path(value), 3)
        clip = media.to_float(media.fit_pictures(clip[: self.frames], self.size, self.channels, as_uint8=True))
        frames = np.zeros((1, self.frames, *clip.shape[1:]), np.float32)
        mask = np.zeros((1, self.frames), np.float32)
        frames[0, :len(clip)], mask[0, :len(clip)] = clip, 1.0
        return {self.name: frames, f"{self.name}_mask": mask}


ARRAYS = {"text": TextArrays, "image": ImageArrays, "frames": FramesArrays}


class LiteModel:
    """An export loaded for inference: the manifest, the interpreter and its signature runners."""

    def __init__(self, directory: str | Path, manifest: dict | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(directory)
        self.manifest = manifest or read_manifest(self.path)
        self.task = self.manifest["task"]
        try:
            self.interpreter = Interpreter(model_path=str(self.path / self.manifest["model"]))
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"{self.path / self.manifest['model']}: not a TFLite model this runtime can load "
                            f"({str(exc).splitlines()[0]})") from None
        signatures = model_signatures(self.interpreter)
        for name in sorted(set(signatures) | set(self.manifest["signatures"])):
            if signatures.get(name) != self.manifest["signatures"].get(name):
                raise self.damaged(f"signature {name!r} is {_brief(self.manifest['signatures'].get(name))} there, "
                                   f"{_brief(signatures.get(name))} in the model")
        self.runners = {name: self.interpreter.get_signature_runner(name) for name in self.manifest["signatures"]}
        self.inputs = {name: ARRAYS[settings["kind"]](self.path, name, settings)
                       for name, settings in self.manifest["inputs"].items()}
        self.output = _OutputInfo(self.manifest["output"])
        self.check_inputs(embedding_rows((self.path / self.manifest["model"]).read_bytes()))
        self.check_output()

    def damaged(self, what: str) -> UserError:
        """The error for a manifest that does not describe its own model (edited, hashes recomputed)."""
        return UserError(f"{self.path / MANIFEST} does not match its model: {what}")

    def model_input(self, name: str, stepped: bool = False) -> list[int] | None:
        """The shape of the model's input ``name`` (in whichever signature takes it); None for
        the text of a language model (``stepped``), which goes in token by token."""
        for signature in self.manifest["signatures"].values():
            if name in signature["inputs"]:
                return signature["inputs"][name]["shape"]
        if stepped and self.output.kind == "next_token":
            return None
        raise self.damaged(f"no signature of the model takes the input {name!r}")

    def model_output(self, signature: str, name: str) -> list[int]:
        signatures = self.manifest["signatures"]
        if signature not in signatures or name not in signatures[signature]["outputs"]:
            raise self.damaged(f"the model has no output {name!r} of a signature {signature!r}")
        return self.manifest["signatures"][signature]["outputs"][name]["shape"]

    def check_inputs(self, rows: int | None) -> None:
        """Each input's settings against the model's own tensors: the static length, picture size
        and channels its input tensor has, and a vocabulary no larger than the embedding tables."""
        for name, encode in self.inputs.items():
            settings = self.manifest["inputs"][name]
            if settings["kind"] == "text":
                shape, want = self.model_input(f"{name}_ids", stepped=True), settings.get("static_length")
                if shape is not None and shape[1:] != [want]:
                    raise self.damaged(f"input {name!r} has static_length {want!r}, the model's {name}_ids is "
                                       f"{shape}")
                size = vocabulary_size(encode.tokenizer)
                if rows is not None and size > rows:
                    raise self.damaged(f"input {name!r}: its vocabulary {settings['vocabulary']} has {size} entries, "
                                       f"the model's embedding {rows} rows")
            else:
                shape = self.model_input(name)
                want = [encode.size, encode.size, encode.channels]
                if settings["kind"] == "frames":
                    want = [encode.frames, *want]
                if shape[1:] != want:
                    raise self.damaged(f"input {name!r} is {[1, *want]} there, {shape} in the model")

    def check_output(self) -> None:
        """The output settings against the model's outputs (labels, ids in the vocabulary)."""

    def check_labels(self, signature: str) -> None:
        labels, shape = self.output.settings.get("labels"), self.model_output(signature, "probabilities")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels) or len(labels) != shape[-1]:
            count = f"{len(labels)} labels" if isinstance(labels, list) else f"labels {_brief(labels)}"
            raise self.damaged(f"{count} (strings), the model gives {shape[-1]} probabilities")

    def check_ids(self, size: int, **ids: Any) -> None:
        """Every named id (or list of ids) of the output settings is one of ``size`` ids."""
        for key, value in ids.items():
            for i in value if isinstance(value, list) else [value]:
                if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < size:
                    raise self.damaged(f"the output's {key} {_brief(value)} is not among the model's {size} ids")

    @property
    def input_names(self) -> list[str]:
        return list(self.inputs)

    def call(self, signature: str, **arrays) -> dict[str, np.ndarray]:
        """Run one signature; arrays are cast to the dtypes the manifest names."""
        spec = self.manifest["signatures"][signature]["inputs"]
        return self.runners[signature](**{k: np.asarray(v, dtype=spec[k]["dtype"]) for k, v in arrays.items()})

    def arrays(self, row: dict) -> dict[str, np.ndarray]:
        """One input row (raw values by input name) as the signature's arrays."""
        out: dict[str, np.ndarray] = {}
        for name, encode in self.inputs.items():
            out.update(encode(row[name]))
        return out

    def rows(self, inputs: list) -> list[dict]:
        """User inputs (bare values for the first input, or dicts by name) as dicts."""
        rows = [value if isinstance(value, dict) else {self.input_names[0]: value} for value in inputs]
        for i, row in enumerate(rows):
            problems = ([f"no input named {', '.join(n for n in row if n not in self.inputs)}"]
                        if set(row) - set(self.inputs) else []) + \
                ([f"missing {', '.join(n for n in self.inputs if n not in row)}"] if set(self.inputs) - set(row) else [])
            if problems:
                raise UserError(f"input {i + 1}: {'; '.join(problems)}; this export reads {', '.join(self.inputs)}")
        return rows

    predict_options: tuple[str, ...] = ()

    def checked(self, options: dict) -> dict:
        """The options given (not None); one this export does not take, or a value out of
        range, is a ``UserError``."""
        from rnn_apps.options import checked_values

        return checked_values(checked(options, self.predict_options, "predict", f"a {self.task} TFLite export"))


class _OutputInfo:
    """What the CLI needs to render results: the output kind (and noun, for sequences)."""

    def __init__(self, settings: dict):
        self.kind, self.noun, self.settings = settings["kind"], settings.get("noun", ""), settings


class Classifier(LiteModel):
    """"label": probabilities over the manifest's labels from ``classify``."""

    def check_output(self) -> None:
        self.check_labels("classify")

    def probabilities(self, row: dict) -> np.ndarray:
        return self.call("classify", **self.arrays(row))["probabilities"][0].astype(np.float64)  # one per label

    def predict(self, inputs: list, **options) -> list[dict]:
        self.checked(options)
        labels = self.output.settings["labels"]
        results = []
        for i, row in enumerate(self.rows(inputs)):
            shown = {k: v if isinstance(v, str) else f"array {i + 1}" for k, v in row.items()}
            results.append(label_result(shown, labels, self.probabilities(row)))
        return results


class LanguageModel(LiteModel):
    """"next_token": the ``step`` signature driven token by token with the states carried;
    generation runs ``steps`` (several tokens a call) where the export has it."""

    predict_options = ("temperature", "top_k", "top_p", "seed", "max_length")

    def __init__(self, directory: str | Path, manifest: dict | None = None):
        super().__init__(directory, manifest)
        self.vocab = self.inputs[self.output.settings["input"]].tokenizer
        signatures = self.manifest["signatures"]
        self.state_names = [n for n in signatures["step"]["inputs"] if n != "token"]
        # tokens per call of ``steps``; 0: an export made before it, generated one ``step`` at a time
        self.block = signatures["steps"]["inputs"]["uniforms"]["shape"][1] if "steps" in signatures else 0

    def check_output(self) -> None:
        from rnn_apps.options import checked_values

        vocab = self.inputs[self.output.settings["input"]].tokenizer
        logits = self.model_output("step", "logits")[-1]
        if vocabulary_size(vocab) != logits:
            raise self.damaged(f"the vocabulary has {vocabulary_size(vocab)} entries, the model's logits {logits}")
        self.check_ids(logits, banned_ids=self.output.settings["banned_ids"])
        defaults = self.output.settings["defaults"]
        if not isinstance(defaults, dict) or set(defaults) - set(self.predict_options):
            raise self.damaged(f"the output's defaults {_brief(defaults)} are not options of generate")
        try:
            checked_values(dict(defaults))
        except UserError as exc:
            raise self.damaged(f"the output's defaults: {exc}") from None

    def step(self, token: int, states: dict) -> tuple[np.ndarray, dict]:
        out = self.call("step", token=[[token]], **states)
        return out["logits"][0], {n: out[n] for n in self.state_names}

    def steps(self, token: int, states: dict, uniforms: np.ndarray,
              sampling: Sampling) -> tuple[np.ndarray, np.ndarray, dict]:
        """``block`` steps in one call from ``token`` (not yet read) and the states before it:
        ``(tokens [block], logits [block, vocab], {state: [block, 1, units]})`` (the model's
        choices with ``uniforms [block]``, the logits each was chosen from, the states after each)."""
        greedy = decoding.is_greedy(sampling)
        out = self.call("steps", token=[[token]], **states, uniforms=[uniforms],
                        temperature=[0.0 if greedy else sampling.temperature], top_k=[sampling.top_k],
                        top_p=[sampling.top_p])
        return out["tokens"][0], out["logits"][0], {n: np.swapaxes(out[n], 0, 1) for n in self.state_names}

    def start(self, prompt: str) -> tuple[np.ndarray, dict, int]:
        """Read the prompt (an empty one starts at a line break): (logits, states, its last id)."""
        ids = self.vocab.ids(prompt or "\n") if prompt else []
        ids = ids or self.vocab.ids("\n")
        specs = self.manifest["signatures"]["step"]["inputs"]
        states = {n: np.zeros(specs[n]["shape"], np.float32) for n in self.state_names}
        for token in ids:
            logits, states = self.step(token, states)
        return logits, states, ids[-1]

    def tokens(self, logits: np.ndarray, states: dict, length: int, sampling: Sampling) -> Iterator[int]:
        """``length`` new ids after the prompt's ``logits`` and ``states``: through ``steps`` where
        the export has it, else one ``step`` each; the same ids either way."""
        banned = self.output.settings["banned_ids"]
        if self.block:
            steps = lambda token, states, uniforms: self.steps(token, states, uniforms, sampling)  # noqa: E731
            return decoding.generate_in_blocks(steps, self.block, logits, states, length, sampling, banned)
        return decoding.generate(self.step, logits, states, length, sampling, banned)

    def stream(self, prompt: str, length: int, sampling: Sampling, num_samples: int = 1,
               chunk: int = 32) -> Iterator[list[str]]:
        """Yield, per chunk of tokens, the new text of each sample (samples one after another
        on a batch-1 model; each sample's seed is ``seed + its index``)."""
        logits, states, last = self.start(prompt)
        runs = [self.tokens(logits, states, length, Sampling(sampling.greedy, sampling.temperature, sampling.top_k,
                                                             sampling.top_p, sampling.seed + i))
                for i in range(num_samples)]
        previous = [last] * num_samples
        for _ in range(0, length, chunk):
            pieces = []
            for i, run in enumerate(runs):
                ids = [token for _, token in zip(range(chunk), run)]
                pieces.append(self.vocab.decode(ids, after=previous[i]) if ids else "")
                previous[i] = ids[-1] if ids else previous[i]
            yield pieces

    def generate(self, prompt: str, length: int, sampling: Sampling, num_samples: int = 1) -> list[str]:
        texts = [""] * num_samples
        for pieces in self.stream(prompt, length, sampling, num_samples, chunk=max(length, 1)):
            texts = [t + p for t, p in zip(texts, pieces)]
        return texts

    def predict(self, inputs: list, **options) -> list[dict]:
        from rnn_apps.options import check_prompt

        options = {**self.output.settings["defaults"], **self.checked(options)}
        rows = self.rows(inputs)
        for i, row in enumerate(rows):
            check_prompt(row[self.input_names[0]], f"input {i + 1}")
        sampling = Sampling(temperature=options["temperature"], top_k=options["top_k"], top_p=options["top_p"],
                            seed=options["seed"])
        prompts = [str(row[self.input_names[0]]) for row in rows]
        return [continuation_result(p, self.generate(p, options["max_length"], sampling)[0], sampling.seed)
                for p in prompts]


class Translator(LiteModel):
    """"sequence": ``encode`` once, then ``decode_step`` per output token."""

    predict_options = ("beam", "length_penalty", "max_length", "temperature", "top_k", "top_p", "seed")

    def __init__(self, directory: str | Path, manifest: dict | None = None):
        super().__init__(directory, manifest)
        settings = self.output.settings
        self.target = tokenizer(self.path, {**settings, "end_token": None})
        self.source = settings["source"]
        self.state_names = [n for n in self.manifest["signatures"]["encode"]["outputs"]
                            if n not in ("encoder_outputs", "source_mask")]

    def check_output(self) -> None:
        settings = self.output.settings
        target = tokenizer(self.path, {**settings, "end_token": None})
        logits = self.model_output("decode_step", "logits")[-1]
        if vocabulary_size(target) != logits:
            raise self.damaged(f"the target vocabulary has {vocabulary_size(target)} entries, the model's logits "
                               f"{logits}")
        self.check_ids(logits, start_id=settings["start_id"], end_id=settings["end_id"],
                       banned_ids=settings["banned_ids"])
        if settings["source"] not in self.inputs:
            raise self.damaged(f"the output's source {settings['source']!r} is not one of its inputs")
        if isinstance(settings["max_output_length"], bool) or not isinstance(settings["max_output_length"], int) \
                or not 1 <= settings["max_output_length"] <= MAX_OUTPUT_LENGTH:
            raise self.damaged(f"max_output_length {_brief(settings['max_output_length'])} is not in "
                               f"1..{MAX_OUTPUT_LENGTH}")

    def step(self, token: int, states: dict) -> tuple[np.ndarray, dict]:
        out = self.call("decode_step", token=[[token]], **states)
        return out["logits"][0], {**states, **{n: out[n] for n in self.state_names}}

    def translate(self, value: Any, decoding_settings: Decoding) -> tuple[list[int], float | None]:
        """One input -> (output ids without the end token, log-probability for beam search or None)."""
        settings = self.output.settings
        states = self.call("encode", **self.inputs[self.source](value))
        logits, states = self.step(settings["start_id"], states)
        max_length = decoding_settings.max_length or settings["max_output_length"]
        banned = settings["banned_ids"]
        if decoding_settings.beam > 1:
            return decoding.beam_search(self.step, logits, states, beam=decoding_settings.beam, max_length=max_length,
                                        end_id=settings["end_id"], length_penalty=decoding_settings.length_penalty,
                                        banned=banned)
        sampling = decoding_settings.sampling or Sampling(greedy=True, seed=0)
        return list(decoding.generate(self.step, logits, states, max_length, sampling, banned, settings["end_id"])), None

    def predict(self, inputs: list, **options) -> list[dict]:
        decoding_settings = Decoding.from_options(**self.checked(options))
        seed = decoding_settings.sampling.seed if decoding_settings.sampling is not None else None
        results = []
        for i, row in enumerate(self.rows(inputs)):
            value = row[self.source]
            ids, score = self.translate(value, decoding_settings)
            results.append(sequence_result(self.source, value if isinstance(value, str) else f"array {i + 1}",
                                           self.output.noun, self.target.decode(ids),
                                           [self.target.id_tokens[k] for k in ids], ids, score, seed))
        return results


class StepLabeler(LiteModel):
    """"labels_per_step": ``label_steps`` on the input padded to its static length (a clip's
    ``max_frames``, a sentence's ``max_length``); a label per real frame or token."""

    def __init__(self, directory: str | Path, manifest: dict | None = None):
        super().__init__(directory, manifest)
        # exports made before tokens could be labelled name the signature after frames
        self.signature = "label_steps" if "label_steps" in self.manifest["signatures"] else "label_frames"
        self.crf = self.output.settings.get("decoder") == "crf"

    @property
    def predict_options(self) -> tuple[str, ...]:
        return ("plot",) if self.manifest["inputs"][self.output.settings["input"]]["kind"] == "frames" else ()

    def check_output(self) -> None:
        if self.output.settings.get("input") not in self.inputs:
            raise self.damaged(f"the output's input {self.output.settings.get('input')!r} is not one of its inputs")
        signature = "label_steps" if "label_steps" in self.manifest["signatures"] else "label_frames"
        if self.output.settings.get("decoder") == "crf":
            self.model_output(signature, "tags")  # the Viterbi tags (a damaged manifest lacks them)
            labels = self.output.settings.get("labels")
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise self.damaged(f"labels {_brief(labels)} are not a list of strings")
        else:
            self.check_labels(signature)

    def predict(self, inputs: list, **options) -> list[dict]:
        from rnn_apps.outputs.results import step_result

        plot = self.checked(options).get("plot")
        labels, results = self.output.settings["labels"], []
        name = self.output.settings["input"]
        encode = self.inputs[name]
        for i, row in enumerate(self.rows(inputs)):
            arrays = self.arrays(row)
            mask = arrays[f"{name}_mask"] if f"{name}_mask" in arrays else (arrays[f"{name}_ids"] != 0)
            out = self.call(self.signature, **arrays)
            steps = int(mask.sum())
            tokens = encode.tokens(row[name]) if isinstance(encode, TextArrays) else None
            if tokens is not None:
                steps = min(steps, len(tokens))
            if self.crf:
                best, confidence = out["tags"][0][:steps], None
            else:
                probs = out["probabilities"][0][:steps]
                best, confidence = probs.argmax(-1), probs.max(-1)
            result = step_result(name, row[name] if isinstance(row[name], str) else f"array {i + 1}",
                                 [labels[k] for k in best], confidence, None if tokens is None else tokens[:steps])
            if plot is not None:
                from rnn_apps.plots import plot_frame_labels

                path = Path(plot) if len(inputs) == 1 else Path(plot).with_name(f"{Path(plot).stem}_{i + 1}.png")
                result["plot"] = str(plot_frame_labels(arrays[name][0][: len(result["labels"])], result["labels"],
                                                       path))
            results.append(result)
        return results


RUNNERS = {"label": Classifier, "next_token": LanguageModel, "sequence": Translator,
           "labels_per_step": StepLabeler}


def is_export(path: str | Path) -> bool:
    """Whether ``path`` is a TFLite export folder (rather than a run directory)."""
    return (Path(path) / MANIFEST).is_file()


def load(directory: str | Path) -> LiteModel:
    """The runner of a TFLite export folder, by its output kind."""
    manifest = read_manifest(Path(directory))
    kind = manifest["output"].get("kind")
    if kind not in RUNNERS:
        raise UserError(f"{directory}: this runtime cannot run output kind {kind!r}; kinds: {', '.join(RUNNERS)}")
    try:
        return RUNNERS[kind](directory, manifest)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:  # a manifest edited by hand
        raise UserError(f"{Path(directory) / MANIFEST} does not describe its model ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
