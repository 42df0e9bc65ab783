"""A procedural SVG picture whose look is set by a latent vector ``z`` in ``[-1, 1]^d``.

Twenty visual parameters in ``[0, 1]`` (background gradient: two hues, angle, lightness; four
shapes: hue, size, x, y) come from ``z``: coordinate ``j`` drives parameter ``j`` when
``d <= 20`` (the others keep a fixed value), and a fixed random projection (from
``Key(seed)``) mixes all ``d`` coordinates into every parameter when ``d > 20``. Nearby latents give
similar pictures, so a person's ranking of perturbed pictures carries a gradient signal
(Tang, Rybin, Chang, ICLR 2024, https://arxiv.org/abs/2303.03751, tune image latents the same
way with Stable Diffusion).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from blackbox.errors import ConfigError
from blackbox.keys import Key

__all__ = ["N_PARAMS", "SvgPicture"]

N_PARAMS = 20
_SHAPES = ("circle", "rect", "triangle", "circle")


class SvgPicture:
    """``render(z) -> SVG string``; ``params(z)`` gives the 20 visual parameters in [0, 1]."""

    def __init__(self, dim: int, seed: int = 0, size: int = 200) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"svg demo: dim must be an int >= 1, got {dim!r}")
        self.dim, self.size = dim, size
        if dim <= N_PARAMS:
            self.proj = np.eye(N_PARAMS, dim)
        else:
            self.proj = Key(seed).fold_in(7).numpy().standard_normal((N_PARAMS, dim)) / np.sqrt(dim)
        self.offset = Key(seed).fold_in(8).numpy().uniform(-0.8, 0.8, N_PARAMS)  # the look at z = 0

    def params(self, z: Any) -> np.ndarray:
        p = self.proj @ np.clip(np.asarray(z, dtype=np.float64), -1.0, 1.0) + self.offset
        return 0.5 + 0.5 * np.tanh(1.5 * p)  # type: ignore[no-any-return]

    def __call__(self, z: Any) -> str:
        return self.render(z)

    def render(self, z: Any) -> str:
        p, s = self.params(z), self.size
        h1, h2, ang, light = p[0] * 360, p[1] * 360, p[2] * 180, 25 + 50 * p[3]
        x2, y2 = 50 + 50 * np.cos(np.radians(ang)), 50 + 50 * np.sin(np.radians(ang))
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" '
            f'viewBox="0 0 {s} {s}"><defs><linearGradient id="bg" x1="0%" y1="0%" '
            f'x2="{x2:.1f}%" y2="{y2:.1f}%"><stop offset="0%" stop-color="{_hsl(h1, 70, light)}"/>'
            f'<stop offset="100%" stop-color="{_hsl(h2, 70, 100 - light)}"/>'
            '</linearGradient></defs>'
            f'<rect width="{s}" height="{s}" fill="url(#bg)"/>'
        ]
        for i, kind in enumerate(_SHAPES):
            hue, size, x, y = p[4 + 4 * i: 8 + 4 * i]
            parts.append(_shape(kind, hue * 360, (0.08 + 0.25 * size) * s, x * s, y * s))
        parts.append("</svg>")
        return "".join(parts)


def _hsl(h: float, s: float, lightness: float) -> str:
    return f"hsl({h:.0f},{s:.0f}%,{lightness:.0f}%)"


def _shape(kind: str, hue: float, r: float, x: float, y: float) -> str:
    fill = f'fill="{_hsl(hue, 75, 55)}" fill-opacity="0.85"'
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {fill}/>'
    if kind == "rect":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" ' \
               f'rx="{r / 4:.1f}" {fill}/>'
    pts = " ".join(f"{x + r * np.cos(a):.1f},{y + r * np.sin(a):.1f}"
                   for a in np.radians([-90, 30, 150]))
    return f'<polygon points="{pts}" {fill}/>'
