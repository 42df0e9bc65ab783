"""The demos' renderers: the SVG picture and the tagline follow their latent vectors."""

from __future__ import annotations

import numpy as np
import pytest

from apps.prefer.svg import N_PARAMS, SvgPicture
from apps.prefer.tagline import SLOTS, Tagline
from blackbox.errors import ConfigError


def test_svg_is_a_deterministic_picture_that_moves_with_its_latent():
    pic = SvgPicture(12)
    z = np.linspace(-1, 1, 12)
    svg = pic.render(z)
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "<script" not in svg
    assert svg == SvgPicture(12).render(z)
    p = pic.params(z)
    assert p.shape == (N_PARAMS,) and np.all((p > 0) & (p < 1))
    z2 = z.copy()
    z2[0] += 0.3  # coordinate 0 drives the first hue only (d <= 20)
    assert np.flatnonzero(~np.isclose(pic.params(z2), p)).tolist() == [0]


def test_svg_mixes_every_coordinate_when_d_exceeds_the_parameters():
    pic = SvgPicture(100, seed=1)
    z = np.zeros(100)
    z[57] = 0.5
    assert np.sum(~np.isclose(pic.params(z), pic.params(np.zeros(100)))) == N_PARAMS


def test_tagline_picks_the_largest_coordinate_of_each_slot():
    t = Tagline("Brewly")
    assert t.dim == sum(len(s) for s in SLOTS)
    z = np.zeros(t.dim)
    z[[1, 5 + 2, 10 + 4, 15 + 0, 20 + 3]] = 1.0
    assert t(z) == "Discover Brewly: greener breaks for everyone. Try it today."
    with pytest.raises(ConfigError, match=r"latent must have shape \(25,\)"):
        t(np.zeros(3))
    with pytest.raises(ConfigError, match="dim must be an int >= 1"):
        SvgPicture(0)
