"""Scenes of coloured shapes, drawn with NumPy: the pictures of the built-in vision data.

The video, VQA and captioning generators (``models/``) all draw their images here: a
few shapes (circle, square, triangle) of distinct colours on a plain background, placed
without overlapping, in the spirit of Sort-of-CLEVR. Nothing here is random by itself:
callers pass a seeded ``random.Random``, so a seed fixes every picture.
"""
from __future__ import annotations

import dataclasses
import math
import random
from typing import Sequence

import numpy as np

COLORS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (50, 90, 230), "yellow": (230, 210, 40),
          "purple": (150, 60, 200), "orange": (240, 140, 30), "white": (235, 235, 235), "cyan": (40, 200, 210)}
KINDS = ("circle", "square", "triangle")


@dataclasses.dataclass(frozen=True)
class Shape:
    """One shape: its kind, colour name, centre ``(x, y)`` in pixels and radius (half width)."""

    kind: str
    color: str
    x: float
    y: float
    radius: float

    def distance(self, other: "Shape") -> float:
        return math.hypot(self.x - other.x, self.y - other.y)


def mask(shape: Shape, height: int, width: int) -> np.ndarray:
    """``[height, width]`` bool: the pixels whose centres lie inside ``shape``."""
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    dx, dy, r = xx - shape.x, yy - shape.y, shape.radius
    if shape.kind == "circle":
        return dx * dx + dy * dy <= r * r
    if shape.kind == "square":
        return (np.abs(dx) <= r * 0.9) & (np.abs(dy) <= r * 0.9)
    if shape.kind == "triangle":  # pointing up: the half-width grows from 0 at the top to r at the bottom
        return (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    raise ValueError(f"unknown shape kind {shape.kind!r}; kinds: {', '.join(KINDS)}")


def render(shapes: Sequence[Shape], height: int, width: int | None = None, channels: int = 3,
           background: int = 0) -> np.ndarray:
    """``[height, width, channels]`` uint8 picture of ``shapes`` (later ones on top);
    ``channels`` 1 draws every shape white on grey levels of its colour's brightness."""
    width = width or height
    canvas = np.full((height, width, 3), background, np.uint8)
    for shape in shapes:
        canvas[mask(shape, height, width)] = COLORS[shape.color]
    if channels == 1:
        return canvas.mean(axis=-1, keepdims=True).round().astype(np.uint8)
    return canvas


def place(rng: random.Random, count: int, size: int, radius: float, colors: Sequence[str],
          kinds: Sequence[str] = KINDS, margin: float = 1.0, tries: int = 1000) -> list[Shape]:
    """``count`` shapes of the given colours (one each, in order) and random kinds, placed at
    random inside a ``size`` x ``size`` picture so that no two overlap."""
    shapes: list[Shape] = []
    for color in colors[:count]:
        for _ in range(tries):
            x, y = rng.uniform(radius + 1, size - radius - 1), rng.uniform(radius + 1, size - radius - 1)
            candidate = Shape(rng.choice(list(kinds)), color, x, y, radius)
            if all(candidate.distance(s) > 2 * radius + margin for s in shapes):
                shapes.append(candidate)
                break
        else:
            raise ValueError(f"cannot place {count} shapes of radius {radius} in {size} x {size} pixels")
    return shapes
