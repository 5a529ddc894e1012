"""Property tests: any config and any image either works as promised or gives one user error.

The property, for generated configs (valid and invalid) and images: loading,
validating, planning and running either succeed — every stage's output has
the planned shape and dtype, and holds no NaN unless the input had some — or
raise :class:`CnnvizError` whose message names a key path (or a file) —
never another exception.  CI runs a few hundred examples; for a longer local
run: ``HYPOTHESIS_PROFILE=long python -m pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnviz.config import STAGE_TYPES, load_config
from cnnviz.errors import CnnvizError, ConfigErrors
from cnnviz.pipeline import plan, run

# the hypothesis profiles ("ci", "long") are registered in tests/conftest.py, for every property test

WEIRD_TEXT = st.sampled_from(["", " ", "ü", "名前", "\u202e", "a\x00b", "../x", "same", "valid", "max", "gray",
                              "1e-4", "nan", "∞", "sobel_x", "gabor", "relu", "conv"])
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(-3, 9), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.5, 1.5, -0.25, 1e308, 1e-300]),
    WEIRD_TEXT, st.text(max_size=8),
)


def nested(depth: int = 3) -> st.SearchStrategy:
    return st.recursive(SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=10)


SMALL_INT = st.integers(-1, 6)
PAIR = st.one_of(SMALL_INT, st.lists(SMALL_INT, min_size=0, max_size=3))
GOOD_PAIR = st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2))
KERNEL_2D = st.integers(1, 4).flatmap(lambda h: st.integers(1, 4).flatmap(
    lambda w: st.lists(st.lists(st.floats(-3, 3, allow_nan=False), min_size=w, max_size=w), min_size=h, max_size=h)))
KERNEL_3D = st.integers(1, 3).flatmap(lambda c: st.lists(st.lists(
    st.lists(st.floats(-2, 2, allow_nan=False), min_size=c, max_size=c), min_size=2, max_size=2), min_size=2, max_size=2))
GOOD_FILTER = st.one_of(
    KERNEL_2D, KERNEL_3D,
    st.fixed_dictionaries({"preset": st.sampled_from(["sobel_x", "gaussian", "gabor", "gabor_bank", "log", "dog",
                                                      "box", "identity", "laplacian", "emboss"])},
                          optional={"size": st.integers(1, 7)}),
    st.fixed_dictionaries({"random": st.fixed_dictionaries(
        {}, optional={"count": st.integers(1, 4), "size": GOOD_PAIR,
                      "dist": st.sampled_from(["uniform", "normal", "he", "glorot"])})}),
)
BAD_FILTER = st.one_of(
    st.fixed_dictionaries({"preset": st.sampled_from(["sobelx", "gabor", "gaussian"])},
                          optional={"size": PAIR, "sigma": SCALARS, "orientations": SMALL_INT, "theta": SCALARS}),
    st.fixed_dictionaries({"random": st.fixed_dictionaries(
        {}, optional={"count": SMALL_INT, "size": PAIR, "dist": st.sampled_from(["uniform", "x"]),
                      "std": SCALARS, "low": SCALARS})}),
    nested(),
)
GOOD = {
    "conv": {"filters": st.lists(GOOD_FILTER, min_size=1, max_size=3),
             "padding": st.one_of(st.sampled_from(["valid", "same", "full"]), st.integers(0, 2)),
             "pad_mode": st.sampled_from(["constant", "reflect", "symmetric", "edge", "wrap"]),
             "stride": GOOD_PAIR, "dilation": GOOD_PAIR, "flip": st.booleans(), "depthwise": st.booleans(),
             "bias": st.floats(-1, 1)},
    "leaky_relu": {"slope": st.floats(-1, 1)},
    "pool": {"mode": st.sampled_from(["max", "avg", "min"]), "size": GOOD_PAIR, "stride": GOOD_PAIR,
             "padding": st.integers(0, 1)},
    "global_pool": {"mode": st.sampled_from(["max", "avg"])},
    "norm": {"mode": st.sampled_from(["lrn", "standardize", "minmax"])},
    "dense": {"units": st.integers(1, 5), "bias": st.floats(-1, 1)},
}
BAD = {
    "filters": st.lists(st.one_of(GOOD_FILTER, BAD_FILTER), max_size=3),
    "padding": st.one_of(st.sampled_from(["sam", "FULL"]), PAIR), "pad_mode": st.sampled_from(["mirror", 3]),
    "stride": PAIR, "dilation": PAIR, "flip": SCALARS, "bias": st.one_of(SCALARS, st.lists(st.floats(-1, 1), max_size=3)),
    "slope": SCALARS, "mode": st.sampled_from(["mean", "lrn", None]), "size": PAIR, "alpha": SCALARS,
    "units": SMALL_INT, "labels": st.lists(WEIRD_TEXT, max_size=4), "name": st.one_of(WEIRD_TEXT, st.text(max_size=5)),
    "weights": nested(), "junk": SCALARS,
}


@st.composite
def stages(draw: st.DrawFn) -> object:
    """Mostly valid stages, with a mistake mixed in now and then."""
    kind = draw(st.sampled_from(STAGE_TYPES)) if draw(st.integers(0, 20)) < 20 else draw(st.sampled_from(["bogus", 3, None]))
    good = GOOD.get(kind, {}) if isinstance(kind, str) else {}
    if not good and draw(st.booleans()):
        return kind
    stage = {"type": kind}
    for key, strat in good.items():
        if key in ("filters", "units") or draw(st.booleans()):
            stage[key] = draw(strat)
    if draw(st.integers(0, 12)) == 12:  # one mistake, now and then
        key = draw(st.sampled_from(sorted(BAD)))
        stage[key] = draw(BAD[key])
    return stage


@st.composite
def configs(draw: st.DrawFn) -> dict:
    """Mostly valid configs; a few top-level mistakes."""
    config = draw(_CONFIGS)
    if draw(st.integers(0, 8)) == 8:  # (hypothesis favours small numbers: 8 is the rare case)
        config[draw(st.sampled_from(["junk", "seed", "input", "render", "stages", "dtype"]))] = draw(nested())
    return config


_CONFIGS = st.fixed_dictionaries(
    {"stages": st.lists(stages(), min_size=1, max_size=5)},
    optional={
        "seed": st.integers(0, 2**63 - 1),
        "dtype": st.sampled_from(["float32", "float64"]),
        "input": st.fixed_dictionaries({}, optional={
            "color": st.sampled_from(["gray", "rgb", "keep"]),
            "resize": st.one_of(st.integers(1, 20), st.lists(st.integers(1, 20), min_size=2, max_size=2), st.none())}),
        "render": st.fixed_dictionaries({}, optional={
            "cmap": st.sampled_from(["gray", "viridis", "RdBu_r"]), "max_maps": st.integers(1, 4),
            "normalize": st.sampled_from(["map", "layer", "global"])}),
    },
)
CONFIGS = configs()


@st.composite
def images(draw: st.DrawFn) -> np.ndarray:
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    shape = draw(st.sampled_from([(h, w), (h, w, 1), (h, w, 3), (h, w, 2), (h, w, 4)]))
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, bool, np.int32]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.random(shape) * (255 if dtype in (np.uint8, np.int32) else 65535 if dtype == np.uint16 else 1)
    a = a.astype(dtype)
    if dtype in (np.float32, np.float64) and draw(st.integers(0, 9)) == 0:
        a.flat[0] = np.nan
    return a


def _assert_user_error(err: CnnvizError) -> None:
    errors = err.errors if isinstance(err, ConfigErrors) else [err]
    for e in errors:
        text = str(e)
        assert text and "\n" not in text
        assert e.path or e.source is not None or "image" in text or "array" in text or "memory" in text, text


@given(config=CONFIGS, image=images())
def test_any_config_and_image_work_or_fail_cleanly(config, image):
    try:
        cfg = load_config(config)
    except CnnvizError as err:
        _assert_user_error(err)
        return
    try:
        layers = run(cfg, image, max_memory=256 << 20)
    except CnnvizError as err:
        _assert_user_error(err)
        return
    from cnnviz.pipeline.inputs import load_image

    x = load_image(image, cfg)
    planned = plan(cfg, x.shape)
    assert len(layers) == len(cfg.stages)
    for layer, ps in zip(layers, planned):
        assert layer.output.shape == ps.output_shape
        assert layer.output.dtype == cfg.np_dtype


@given(text=st.text(max_size=200))
def test_any_text_as_yaml_fails_cleanly(text):
    try:
        load_config(text + "\n")
    except CnnvizError as err:
        _assert_user_error(err)


@given(data=st.binary(max_size=300))
@settings(max_examples=60)
def test_any_bytes_as_image_fail_cleanly(tmp_path_factory, data):
    from cnnviz.io.images import read_image

    p = tmp_path_factory.mktemp("img") / "x.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + data if data[:1] == b"\x00" else data)
    try:
        a = read_image(p)
    except CnnvizError as err:
        assert str(err).startswith(str(p))
    else:  # pragma: no cover - a random byte string that decodes
        assert a.ndim == 3


def test_nan_inputs_are_propagated_not_crashing():
    cfg = load_config({"stages": [{"type": "conv", "filters": [[[1, 1], [1, 1]]]}, "relu", "pool", "softmax"]})
    img = np.ones((6, 6))
    img[0, 0] = math.nan
    with pytest.raises(CnnvizError) as info:
        run(cfg, img)
    assert str(info.value) == "the image array contains NaN or inf"
