"""SentencePiece encoding in core TensorFlow ops, for SavedModels that load anywhere.

A SavedModel that tokenizes raw strings with TensorFlow Text's ``SentencepieceOp`` loads
only after ``import tensorflow_text``, and stock TF Serving cannot run it at all (it links
only core ops: tensorflow/serving#1490). This module encodes text with the run's own
SentencePiece model using only ops every TensorFlow has (string joins, a hash table, a
``while`` loop), and a test holds it to the ``sentencepiece`` package on generated text.

The model's settings are the ones rnn-apps trains with (``rnn_apps.data.subwords``): no
normaliser of its own (``identity``; rnn-apps applies NFC before), a ``▁`` before the text
and in place of every space, spaces kept as they are. Then:

* ``unigram``: the segmentation with the highest total piece score (Viterbi over the
  characters: ``best[j] = max_L best[j - L] + score(piece of the L characters ending at j)``);
  a character no piece covers is ``[UNK]`` (score: the lowest piece score minus 10, as
  SentencePiece); consecutive unknowns become one ``[UNK]``;
* ``bpe``: start from characters and repeatedly merge the adjacent pair whose joined piece
  has the highest score (the earliest merge learned), the leftmost on ties, until no pair
  is a piece; unknown characters as above.

Shapes: ``encode(texts [batch] string) -> ragged [batch, (pieces)] int32``.
"""
from __future__ import annotations

import tensorflow as tf

SPACE = "\u2581"
UNK_PENALTY = 10.0  # SentencePiece scores an unknown character min_score - 10
NORMAL, UNKNOWN, CONTROL, USER_DEFINED = 1, 2, 3, 4  # SentencePiece's piece types


def read_model(model: bytes):
    """The model proto (pieces, scores, types, settings) of a serialized SentencePiece model."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model)
    return proto


def supported(model: bytes) -> str | None:
    """None when ``encode`` reproduces this model, else why not (settings rnn-apps never uses)."""
    proto = read_model(model)
    spec = proto.normalizer_spec
    if proto.trainer_spec.model_type not in (1, 2):
        return "only unigram and bpe models"
    if spec.precompiled_charsmap or spec.name not in ("identity", ""):
        return f"normaliser {spec.name!r}"
    if not spec.add_dummy_prefix or not spec.escape_whitespaces or spec.remove_extra_whitespaces:
        return "whitespace handling other than rnn-apps' own"
    if proto.trainer_spec.byte_fallback:
        return "byte fallback"
    if any(p.type == USER_DEFINED and len(p.piece) > 1 for p in proto.pieces):
        return "user-defined symbols longer than one character"
    return None


class GraphSentencePiece(tf.Module):
    """A SentencePiece model as a hash table of pieces and a score per id, and ``encode``
    in core ops. Make it outside any trace and track it (a SavedModel keeps its table)."""

    def __init__(self, model: bytes, name: str = "sentencepiece"):
        super().__init__(name=name)
        why = supported(model)
        if why:
            raise ValueError(f"this SentencePiece model cannot be encoded in core ops: {why}")
        proto = read_model(model)
        self.bpe = proto.trainer_spec.model_type == 2
        pieces = [(i, p.piece) for i, p in enumerate(proto.pieces) if p.type in (NORMAL, USER_DEFINED)]
        scores = [p.score for p in proto.pieces]
        self.unk_id = next(i for i, p in enumerate(proto.pieces) if p.type == UNKNOWN)
        self.max_chars = max(len(piece) for _, piece in pieces)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant([p for _, p in pieces]),
                                                tf.constant([i for i, _ in pieces], tf.int32)), default_value=-1)
        self.scores = tf.constant(scores, tf.float32)
        self.unk_score = min(scores[i] for i, _ in pieces) - UNK_PENALTY

    def encode(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """``[batch]`` strings -> ragged ``[batch, (pieces)]`` int32 ids (an empty text: no ids)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        escaped = tf.where(tf.strings.length(texts) > 0,
                           tf.strings.join([SPACE, tf.strings.regex_replace(texts, " ", SPACE)]), texts)
        chars = tf.strings.unicode_split(escaped, "UTF-8")  # [b, (n)]
        ids = self._bpe(chars) if self.bpe else self._unigram(chars)
        return self._merge_unknowns(ids)

    # --- unigram: Viterbi over the characters --------------------------------------------
    def _unigram(self, chars: tf.RaggedTensor) -> tf.RaggedTensor:
        lengths = tf.cast(chars.row_lengths(), tf.int32)
        dense = chars.to_tensor("")  # [b, n]
        n = tf.shape(dense)[1]
        padded = tf.pad(dense, [[0, 0], [0, self.max_chars]], constant_values="")
        position = tf.range(n)[None, :]
        ends_ids, ends_scores = [], []  # per piece length L: the piece ending at each position
        candidate = tf.fill(tf.shape(dense), "")
        for L in range(1, self.max_chars + 1):
            candidate = tf.strings.join([candidate, padded[:, L - 1:L - 1 + n]])  # chars i..i+L-1
            found = self.table.lookup(candidate)
            inside = position + L <= lengths[:, None]
            ids = tf.where(inside & (found >= 0), found, -1)
            if L == 1:  # a character no piece covers is unknown
                ids = tf.where(inside & (found < 0), self.unk_id, ids)
            score = tf.where(ids >= 0, tf.gather(self.scores, tf.maximum(ids, 0)), float("-inf"))
            score = tf.where((ids == self.unk_id) & (L == 1), self.unk_score, score)
            # the piece starting at i ends at i + L - 1: shift right by L - 1
            ends_ids.append(tf.pad(ids, [[0, 0], [L - 1, 0]], constant_values=-1)[:, :n])
            ends_scores.append(tf.pad(score, [[0, 0], [L - 1, 0]], constant_values=float("-inf"))[:, :n])
        ends_ids = tf.stack(ends_ids, axis=2)  # [b, n, L]: id of the piece of length L ending at j
        ends_scores = tf.stack(ends_scores, axis=2)

        batch = tf.shape(dense)[0]
        recent0 = tf.concat([tf.zeros([batch, 1]), tf.fill([batch, self.max_chars - 1], float("-inf"))], axis=1)

        def forward(j, recent, choices):  # recent[:, L-1] = best[j - L + 1 ... ] before this step
            totals = recent + ends_scores[:, j]  # [b, L]: best[j + 1 - L] + score
            choice = tf.argmax(totals, axis=1, output_type=tf.int32)  # first (shortest) on ties
            best = tf.reduce_max(totals, axis=1)
            return j + 1, tf.concat([best[:, None], recent[:, :-1]], axis=1), choices.write(j, choice)

        _, _, choices = tf.while_loop(lambda j, *_: j < n, forward,
                                      (0, recent0, tf.TensorArray(tf.int32, size=n)))
        # [b, n]: piece length ending at each j (reshaped: an empty stack has no batch axis)
        lengths_back = tf.reshape(tf.transpose(choices.stack()), [batch, n]) + 1

        def backward(step, end, out):  # end: [b] one past the last character still to cover
            j = tf.maximum(end - 1, 0)
            length = tf.gather(lengths_back, j, batch_dims=1)
            piece = tf.gather(tf.gather(ends_ids, j, batch_dims=1), length - 1, batch_dims=1)
            live = end > 0
            return step + 1, tf.where(live, end - length, end), out.write(step, tf.where(live, piece, -1))

        _, _, out = tf.while_loop(lambda step, *_: step < n, backward,
                                  (0, lengths, tf.TensorArray(tf.int32, size=n)))
        ids = tf.reverse(tf.reshape(tf.transpose(out.stack()), [batch, n]), axis=[1])  # [b, n], -1 where nothing
        return kept(ids, ids >= 0)

    # --- bpe: merge the best adjacent pair until none is a piece ---------------------------
    def _bpe(self, chars: tf.RaggedTensor) -> tf.RaggedTensor:
        symbols = chars.to_tensor("")  # [b, n]
        n = tf.shape(symbols)[1]

        def pair_scores(symbols):
            pairs = tf.strings.join([symbols[:, :-1], symbols[:, 1:]])  # [b, n-1]
            found = self.table.lookup(pairs)
            real = (symbols[:, :-1] != "") & (symbols[:, 1:] != "")
            found = tf.where(real, found, -1)
            return pairs, tf.where(found >= 0, tf.gather(self.scores, tf.maximum(found, 0)), float("-inf"))

        def merge(step, symbols):
            pairs, scores = pair_scores(symbols)
            where = tf.argmax(scores, axis=1, output_type=tf.int32)  # leftmost best pair
            can = tf.reduce_max(scores, axis=1) > float("-inf")
            index = tf.range(n)[None, :]
            source = tf.where(index > where[:, None], index + 1, index)  # shift the rest left
            shifted = tf.gather(tf.pad(symbols, [[0, 0], [0, 1]], constant_values=""), source, batch_dims=1)
            joined = tf.pad(pairs, [[0, 0], [0, 1]], constant_values="")
            merged = tf.where(index == where[:, None], tf.gather(joined, where[:, None], batch_dims=1), shifted)
            return step + 1, tf.where(can[:, None], merged, symbols)

        def more(step, symbols):
            return (step < n) & tf.reduce_any(pair_scores(symbols)[1] > float("-inf"))

        _, symbols = tf.while_loop(more, merge, (0, symbols))
        ids = self.table.lookup(symbols)
        ids = tf.where((ids < 0) & (symbols != ""), self.unk_id, ids)
        return kept(ids, symbols != "")

    # --- shared ---------------------------------------------------------------------------
    def _merge_unknowns(self, ids: tf.RaggedTensor) -> tf.RaggedTensor:
        """Consecutive ``[UNK]`` ids become one, as SentencePiece gives them."""
        dense = ids.to_tensor(-1)
        previous = tf.pad(dense[:, :-1], [[0, 0], [1, 0]], constant_values=-1)
        keep = (dense >= 0) & ~((dense == self.unk_id) & (previous == self.unk_id))
        return kept(dense, keep)


def kept(values: tf.Tensor, keep: tf.Tensor) -> tf.RaggedTensor:
    """Ragged ``[b, (k)]``: each row of ``values`` ``[b, n]`` where ``keep`` is true.
    (``tf.ragged.boolean_mask`` returns a flat tensor when ``n`` is 0: a batch of empty texts.)"""
    return tf.RaggedTensor.from_row_lengths(tf.boolean_mask(values, keep),
                                            tf.reduce_sum(tf.cast(keep, tf.int64), axis=1))
