"""How tokens are chosen: the settings every decoder shares (no TensorFlow here).

``Sampling`` says how the next token is drawn, ``Decoding`` how a whole output sequence
is searched. They are plain dataclasses, used by the compiled TensorFlow decoders
(``sampling``, ``beam``, ``engine``) and by the on-device runtime (``rnn_apps.lite``) alike.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rnn_apps.errors import UserError


@dataclasses.dataclass
class Sampling:
    """How the next token is chosen from the logits.

    Attributes:
        greedy: always take the most likely token (the other settings are ignored).
        temperature: logits are divided by it; < 1 sharpens, > 1 flattens; 0 = greedy.
        top_k: keep only the k most likely tokens (0 = all).
        top_p: keep the smallest set of most likely tokens whose probability reaches p
            (nucleus sampling; 1 = all).
        seed: fixes the samples; None draws one (reported so a run can be repeated).
    """

    greedy: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None

    def __post_init__(self):
        if self.temperature < 0:
            raise UserError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise UserError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise UserError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.seed is None:
            self.seed = int(np.random.default_rng().integers(0, 2**31 - 1))


@dataclasses.dataclass
class Decoding:
    """How output sequences are chosen.

    Attributes:
        beam: beams per input (1 = greedy).
        length_penalty: GNMT's alpha for beam search (longer beams favoured as it grows).
        max_length: most output tokens including ``[END]`` (0 = the engine's default).
        sampling: sample instead (temperature / top-k / top-p / seed); needs ``beam`` 1.
    """

    beam: int = 1
    length_penalty: float = 0.0
    max_length: int = 0
    sampling: Sampling | None = None

    def __post_init__(self):
        if self.beam < 1:
            raise UserError(f"beam must be at least 1, got {self.beam}")
        if self.sampling is not None and self.beam > 1:
            raise UserError("choose either beam search (--beam) or sampling (--temperature/--top-k/--top-p)")

    @classmethod
    def from_options(cls, beam: int | None = None, length_penalty: float | None = None,
                     max_length: int | None = None, temperature: float | None = None, top_k: int | None = None,
                     top_p: float | None = None, seed: int | None = None) -> "Decoding":
        """From predict/evaluate options (None = default); any sampling option means sampling."""
        sampling = None
        if temperature is not None or top_k or (top_p is not None and top_p < 1):
            sampling = Sampling(temperature=1.0 if temperature is None else temperature, top_k=top_k or 0,
                                top_p=1.0 if top_p is None else top_p, seed=seed)
        return cls(beam or 1, length_penalty or 0.0, max_length or 0, sampling)
