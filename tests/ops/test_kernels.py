"""The filter presets against textbook matrices and independent references (scipy.ndimage, skimage's gabor_kernel), and their errors verbatim."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import ndimage

from cnnviz.limits import MAX_KERNEL_SIDE as MAX_SIDE
from cnnviz.ops.kernels import PRESETS, preset_kernels
from tests.helpers import cli, error_of


def correlate_same(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlation with the spec's `same` padding (before = total // 2), zeros outside."""
    kh, kw = kernel.shape
    th, tw = kh - 1, kw - 1
    padded = np.pad(image, ((th // 2, th - th // 2), (tw // 2, tw - tw // 2)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw))
    out: np.ndarray = np.einsum("ijkl,kl->ij", windows, kernel)
    return out


def centred_delta(n: int) -> np.ndarray:
    d = np.zeros((n, n))
    d[n // 2, n // 2] = 1.0
    return d


def crop_centre(a: np.ndarray, h: int, w: int) -> np.ndarray:
    top, left = (a.shape[0] - h) // 2, (a.shape[1] - w) // 2
    assert (a.shape[0] - h) % 2 == 0 and (a.shape[1] - w) % 2 == 0
    return a[top : top + h, left : left + w]


# --------------------------------------------------------------------------
# fixed presets: textbook matrices
# --------------------------------------------------------------------------


TEXTBOOK = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
    "sobel_x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "sobel_y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "scharr_x": [[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]],
    "scharr_y": [[-3, -10, -3], [0, 0, 0], [3, 10, 3]],
    "prewitt_x": [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
    "prewitt_y": [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
    "laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "laplacian_diag": [[1, 1, 1], [1, -8, 1], [1, 1, 1]],
}


@pytest.mark.parametrize("name", sorted(TEXTBOOK))
def test_fixed_preset_matches_textbook(name: str) -> None:
    k = preset_kernels(name, {})
    assert k.shape == (1, 3, 3)
    assert k.dtype == np.float64
    np.testing.assert_array_equal(k[0], np.array(TEXTBOOK[name], dtype=float))
    np.testing.assert_array_equal(k.astype(np.float32)[0], np.array(TEXTBOOK[name]))


@pytest.mark.parametrize("axis", ["sobel", "scharr", "prewitt"])
def test_y_kernels_are_transposes(axis: str) -> None:
    np.testing.assert_array_equal(
        preset_kernels(f"{axis}_y", {})[0], preset_kernels(f"{axis}_x", {})[0].T
    )


@pytest.mark.parametrize("name", ["sobel_x", "scharr_x", "prewitt_x"])
def test_x_derivative_positive_for_intensity_rising_right(name: str) -> None:
    rows, cols = np.mgrid[0:9, 0:9].astype(float)
    k = preset_kernels(name, {})[0]
    right = correlate_same(cols, k)[1:-1, 1:-1]
    down = correlate_same(rows, k)[1:-1, 1:-1]
    assert (right > 0).all()
    np.testing.assert_allclose(down, 0.0, atol=1e-12)


@pytest.mark.parametrize("name", ["sobel_y", "scharr_y", "prewitt_y"])
def test_y_derivative_positive_for_intensity_rising_down(name: str) -> None:
    rows, cols = np.mgrid[0:9, 0:9].astype(float)
    k = preset_kernels(name, {})[0]
    assert (correlate_same(rows, k)[1:-1, 1:-1] > 0).all()
    np.testing.assert_allclose(correlate_same(cols, k)[1:-1, 1:-1], 0.0, atol=1e-12)


def test_fixed_presets_return_fresh_arrays() -> None:
    k = preset_kernels("sobel_x", {})
    k[...] = 99
    assert preset_kernels("sobel_x", {})[0, 0, 0] == -1


@pytest.mark.parametrize("size, shape", [(1, (1, 1)), (3, (3, 3)), (4, (4, 4)), ([3, 6], (3, 6))])
def test_identity_sizes_pass_input_through_with_same_padding(size: object, shape: tuple[int, int]) -> None:
    k = preset_kernels("identity", {"size": size})
    assert k.shape == (1, *shape)
    assert k.sum() == 1.0 and np.count_nonzero(k) == 1
    image = np.random.default_rng(0).random((7, 8))
    np.testing.assert_array_equal(correlate_same(image, k[0]), image)


def test_box() -> None:
    np.testing.assert_array_equal(preset_kernels("box", {})[0], np.full((3, 3), 1 / 9))
    k = preset_kernels("box", {"size": [2, 3]})
    assert k.shape == (1, 2, 3)
    np.testing.assert_allclose(k, 1 / 6)
    assert k.sum() == pytest.approx(1.0)
    assert float(k.astype(np.float32).sum()) == pytest.approx(1.0, abs=1e-6)


# --------------------------------------------------------------------------
# gaussian, LoG, DoG
# --------------------------------------------------------------------------


def test_gaussian_matches_scipy_gaussian_filter_of_delta() -> None:
    # scipy's kernel radius is int(4 * sigma + 0.5) = 4 for sigma 1: a 9x9 support.
    reference = crop_centre(ndimage.gaussian_filter(centred_delta(31), 1.0), 9, 9)
    np.testing.assert_allclose(preset_kernels("gaussian", {"size": 9, "sigma": 1})[0], reference, atol=1e-15)


def test_gaussian_default_is_renormalised_crop() -> None:
    k = preset_kernels("gaussian", {})
    assert k.shape == (1, 5, 5)
    reference = crop_centre(ndimage.gaussian_filter(centred_delta(31), 1.0), 5, 5)
    np.testing.assert_allclose(k[0], reference / reference.sum(), rtol=1e-12)
    assert k.sum() == pytest.approx(1.0, abs=1e-14)


def test_gaussian_non_square_closed_form() -> None:
    k = preset_kernels("gaussian", {"size": [3, 7], "sigma": 2.0})[0]
    y = np.arange(3)[:, None] - 1.0
    x = np.arange(7)[None, :] - 3.0
    g = np.exp(-(x**2 + y**2) / (2 * 2.0**2))
    np.testing.assert_allclose(k, g / g.sum(), rtol=1e-12)


def test_gaussian_even_size_and_tiny_sigma_stay_finite() -> None:
    k = preset_kernels("gaussian", {"size": 4, "sigma": 1e-3})[0]
    assert np.isfinite(k).all() and k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, k[::-1, ::-1])  # symmetric about the half-pixel centre
    k32 = preset_kernels("gaussian", {"size": 6, "sigma": 50}).astype(np.float32)
    assert float(k32.sum()) == pytest.approx(1.0, abs=1e-5)


def test_log_zero_sum_negative_centre_and_matlab_formula() -> None:
    k = preset_kernels("log", {})[0]
    assert k.shape == (9, 9)
    assert abs(k.sum()) < 1e-12
    assert k[4, 4] < 0 and k[4, 4] == k.min()
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    # MATLAB fspecial('log', 9, 1.4), written out.
    s = 1.4
    y, x = np.mgrid[-4:5, -4:5].astype(float)
    h = np.exp(-(x**2 + y**2) / (2 * s**2))
    h /= h.sum()
    h1 = h * (x**2 + y**2 - 2 * s**2) / s**4
    np.testing.assert_allclose(k, h1 - h1.mean(), atol=1e-15)
    assert abs(float(k.astype(np.float32).sum())) < 1e-6


@pytest.mark.parametrize("size, sigma", [(9, 1.4), (15, 2.0), (7, 1.0)])
def test_log_correlates_with_scipy_gaussian_laplace(size: int, sigma: float) -> None:
    reference = crop_centre(ndimage.gaussian_laplace(centred_delta(41), sigma), size, size)
    k = preset_kernels("log", {"size": size, "sigma": sigma})[0]
    assert np.corrcoef(k.ravel(), reference.ravel())[0, 1] > 0.99


def test_dog_zero_sum_positive_centre_and_closed_form() -> None:
    k = preset_kernels("dog", {})[0]
    assert k.shape == (9, 9)
    assert abs(k.sum()) < 1e-15
    assert k[4, 4] > 0 and k[4, 4] == k.max()

    def g(s: float) -> np.ndarray:
        y, x = np.mgrid[-4:5, -4:5].astype(float)
        e: np.ndarray = np.exp(-(x**2 + y**2) / (2 * s**2))
        return e / e.sum()

    np.testing.assert_allclose(k, g(1.0) - g(1.6), atol=1e-15)
    np.testing.assert_allclose(preset_kernels("dog", {"sigma": 2, "sigma2": 3})[0], g(2) - g(3), atol=1e-15)
    np.testing.assert_allclose(
        preset_kernels("dog", {"sigma": 2, "k": 1.5})[0],
        preset_kernels("dog", {"sigma": 2, "sigma2": 3.0})[0],
    )
    # an inverted ratio gives the negated kernel
    assert preset_kernels("dog", {"sigma": 2, "k": 0.5})[0, 4, 4] < 0


def test_dog_correlates_with_negated_log() -> None:
    dog = preset_kernels("dog", {"size": 15, "sigma": 2.0, "k": 1.05})[0]
    log = preset_kernels("log", {"size": 15, "sigma": 2.05})[0]
    assert np.corrcoef(dog.ravel(), -log.ravel())[0, 1] > 0.99


# --------------------------------------------------------------------------
# gabor
# --------------------------------------------------------------------------


def skimage_gabor(size: int, sigma: float, theta: float, wavelength: float, gamma: float, phase: float) -> np.ndarray:
    """Our gabor (zero_mean false) via skimage: frequency = 1/wavelength,
    sigma_x = sigma, sigma_y = sigma/gamma, theta/offset in radians; skimage
    divides by 2*pi*sigma_x*sigma_y, which we undo, and sizes its kernel by
    n_stds, so we crop the centre.  skimage's y axis is the row index (down),
    the same as ours, so the orientation needs no sign change."""
    from skimage.filters import gabor_kernel

    sx, sy = sigma, sigma / gamma
    full = gabor_kernel(
        1 / wavelength, theta=math.radians(theta), sigma_x=sx, sigma_y=sy,
        n_stds=6, offset=math.radians(phase),
    ).real * (2 * math.pi * sx * sy)
    return crop_centre(full, size, size)


@pytest.mark.parametrize(
    "theta, phase, sigma, wavelength, gamma",
    [(0, 0, 3.0, 6.0, 0.5), (45, 0, 3.0, 6.0, 0.5), (90, 0, 3.0, 6.0, 0.5), (30, 90, 2.5, 5.0, 0.8),
     (135, 0, 3.0, 6.0, 0.5), (-60, 45, 4.0, 8.0, 1.0)],
)
def test_gabor_matches_skimage(theta: float, phase: float, sigma: float, wavelength: float, gamma: float) -> None:
    params = dict(theta=theta, phase=phase, sigma=sigma, wavelength=wavelength, gamma=gamma)
    ours = preset_kernels("gabor", {**params, "zero_mean": False})
    assert ours.shape == (1, 15, 15)
    np.testing.assert_allclose(ours[0], skimage_gabor(15, **params), atol=1e-12)


def test_gabor_defaults_and_orientation_convention() -> None:
    raw = preset_kernels("gabor", {"zero_mean": False})[0]
    assert raw[7, 7] == 1.0  # peak 1: the textbook formula, no normalisation
    # theta 0: the wave runs along x, so the carrier is constant down each column
    carrier = raw / raw[:, 7:8]
    np.testing.assert_allclose(carrier, np.broadcast_to(carrier[7], carrier.shape), atol=1e-9)
    # theta 90 is the transpose of theta 0 (y points down, angles exact)
    np.testing.assert_array_equal(preset_kernels("gabor", {"theta": 90, "zero_mean": False})[0], raw.T)
    # theta 45 with y down: the wave runs toward the lower right, stripes along "/"
    k45 = preset_kernels("gabor", {"theta": 45, "zero_mean": False})[0]
    np.testing.assert_allclose(k45, k45.T, atol=1e-15)
    assert k45[6, 8] > 0.5 and k45[6, 6] < k45[6, 8]  # (x=+1, y=-1) lies on the crest through the centre
    k135 = preset_kernels("gabor", {"theta": 135, "zero_mean": False})[0]
    np.testing.assert_allclose(k135, np.fliplr(k45), atol=1e-12)


def test_gabor_zero_mean_and_odd_phase() -> None:
    k = preset_kernels("gabor", {})[0]  # zero_mean defaults to true
    assert abs(k.sum()) < 1e-12
    assert abs(float(k.astype(np.float32).sum())) < 1e-5
    raw = preset_kernels("gabor", {"zero_mean": False})[0]
    assert abs(raw.sum()) > 0.1
    odd = preset_kernels("gabor", {"phase": 90, "zero_mean": False})[0]
    np.testing.assert_allclose(odd, -odd[::-1, ::-1], atol=1e-12)
    assert preset_kernels("gabor", {"size": [9, 21]}).shape == (1, 9, 21)


def test_gabor_bank() -> None:
    bank = preset_kernels("gabor_bank", {})
    assert bank.shape == (8, 15, 15) and bank.dtype == np.float64
    for i in range(8):
        np.testing.assert_array_equal(bank[i], preset_kernels("gabor", {"theta": 22.5 * i})[0])
    bank = preset_kernels("gabor_bank", {"orientations": 3, "theta": 10, "size": 7, "wavelength": 4})
    assert bank.shape == (3, 7, 7)
    for i, theta in enumerate([10, 70, 130]):
        np.testing.assert_allclose(
            bank[i], preset_kernels("gabor", {"theta": theta, "size": 7, "wavelength": 4})[0], atol=1e-12
        )
    assert preset_kernels("gabor_bank", {"orientations": 1}).shape == (1, 15, 15)
    assert len({k.tobytes() for k in preset_kernels("gabor_bank", {"orientations": 4})}) == 4


# --------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------


SPEC_NAMES = [
    "identity", "box", "gaussian", "sharpen", "emboss", "sobel_x", "sobel_y", "scharr_x",
    "scharr_y", "prewitt_x", "prewitt_y", "laplacian", "laplacian_diag", "log", "dog",
    "gabor", "gabor_bank",
]


def test_registry_lists_every_preset_with_docs() -> None:
    assert list(PRESETS) == SPEC_NAMES
    for name, spec in PRESETS.items():
        assert spec.name == name and spec.description and spec.source
        for pname, p in spec.params.items():
            assert p.doc and p.type_name in {"int", "int or [h, w]", "number", "bool"}, pname
            assert p.default_text
    assert PRESETS["gaussian"].defaults() == {"size": 5, "sigma": 1.0}
    assert PRESETS["dog"].params["sigma2"].default_text == "k * sigma"
    assert PRESETS["gabor"].params["zero_mean"].default_text == "true"
    assert list(PRESETS["gabor"].params) == ["size", "sigma", "theta", "wavelength", "gamma", "phase", "zero_mean"]
    assert next(iter(PRESETS["gabor_bank"].params)) == "orientations"
    assert PRESETS["sobel_x"].params == {}


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_preset_is_float64_contiguous_and_float32_safe(name: str) -> None:
    k = preset_kernels(name, {})
    assert k.ndim == 3 and k.dtype == np.float64 and k.flags.c_contiguous
    k32 = k.astype(np.float32)
    assert np.isfinite(k32).all()
    np.testing.assert_allclose(k32, k, atol=1e-6 * max(1.0, float(np.abs(k).max())))


def test_preset_key_and_none_params_are_accepted() -> None:
    np.testing.assert_array_equal(
        preset_kernels("gaussian", {"preset": "gaussian", "sigma": 2}),
        preset_kernels("gaussian", {"sigma": 2.0}),
    )
    assert preset_kernels("box", None).shape == (1, 3, 3)  # type: ignore[arg-type]
    # numpy scalars are numbers too
    np.testing.assert_array_equal(
        preset_kernels("gaussian", {"size": np.int64(5), "sigma": np.float32(1.0)}),
        preset_kernels("gaussian", {}),
    )


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 25), w=st.integers(1, 25),
    sigma=st.floats(1e-6, 1e6), theta=st.floats(-720, 720),
)
def test_smooth_presets_stay_finite_and_normalised(h: int, w: int, sigma: float, theta: float) -> None:
    g = preset_kernels("gaussian", {"size": [h, w], "sigma": sigma})
    assert np.isfinite(g.astype(np.float32)).all() and g.sum() == pytest.approx(1.0)
    d = preset_kernels("dog", {"size": [h, w], "sigma": sigma})
    assert abs(d.sum()) < 1e-9
    gab = preset_kernels("gabor", {"size": [h, w], "sigma": sigma, "theta": theta})
    assert np.isfinite(gab).all() and np.abs(gab).max() <= 2.0


# --------------------------------------------------------------------------
# preset errors, verbatim
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, params, message, path",
    [
        ("sobelx", {}, "unknown preset 'sobelx' (did you mean 'sobel_x'?)", ("preset",)),
        ("gausian", {}, "unknown preset 'gausian' (did you mean 'gaussian'?)", ("preset",)),
        ("zzz", {}, "unknown preset 'zzz'", ("preset",)),
        (3, {}, "must be a preset name, not 3", ("preset",)),
        ("gaussian", {"sigm": 1}, "unknown parameter 'sigm' (did you mean 'sigma'?)", ("sigm",)),
        ("gaussian", {"foo": 1}, "unknown parameter 'foo' (gaussian takes: size, sigma)", ("foo",)),
        ("sobel_x", {"size": 5}, "unknown parameter 'size' (sobel_x takes no parameters)", ("size",)),
        ("gaussian", {"sigma": "abc"}, "must be a number, not 'abc'", ("sigma",)),
        ("gaussian", {"sigma": True}, "must be a number, not true", ("sigma",)),
        ("gaussian", {"sigma": None}, "must be a number, not null", ("sigma",)),
        ("gaussian", {"sigma": [1, 2]}, "must be a number, not [1, 2]", ("sigma",)),
        ("gaussian", {"sigma": 0}, "must be greater than 0, not 0", ("sigma",)),
        ("gaussian", {"sigma": -1.5}, "must be greater than 0, not -1.5", ("sigma",)),
        ("gaussian", {"sigma": float("nan")}, "must be a finite number, not nan", ("sigma",)),
        ("log", {"sigma": float("inf")}, "must be a finite number, not inf", ("sigma",)),
        ("gabor", {"theta": float("-inf")}, "must be a finite number, not -inf", ("theta",)),
        ("gabor", {"theta": 10**400}, "must be a finite number, not " + str(10**400)[:37] + "...", ("theta",)),
        ("box", {"size": 0}, "must be at least 1, not 0", ("size",)),
        ("box", {"size": -3}, "must be at least 1, not -3", ("size",)),
        ("box", {"size": MAX_SIDE + 1}, f"must be at most {MAX_SIDE}, not {MAX_SIDE + 1}", ("size",)),
        ("box", {"size": 2.5}, "must be an integer or [height, width], not 2.5", ("size",)),
        ("box", {"size": 3.0}, "must be an integer or [height, width], not 3.0", ("size",)),
        ("box", {"size": True}, "must be an integer or [height, width], not true", ("size",)),
        ("box", {"size": "3"}, "must be an integer or [height, width], not '3'", ("size",)),
        ("box", {"size": [3]}, "must be an integer or [height, width], not [3]", ("size",)),
        ("box", {"size": [3, 3, 3]}, "must be an integer or [height, width], not [3, 3, 3]", ("size",)),
        ("gaussian", {"size": [3, 0]}, "must be at least 1, not 0", ("size", 1)),
        ("gaussian", {"size": [2.5, 3]}, "must be an integer, not 2.5", ("size", 0)),
        ("identity", {"size": [3, "a"]}, "must be an integer, not 'a'", ("size", 1)),
        ("gabor", {"wavelength": 0}, "must be greater than 0, not 0", ("wavelength",)),
        ("gabor", {"gamma": -1}, "must be greater than 0, not -1", ("gamma",)),
        ("gabor", {"zero_mean": "yes"}, "must be true or false, not 'yes'", ("zero_mean",)),
        ("gabor", {"zero_mean": 1}, "must be true or false, not 1", ("zero_mean",)),
        ("gabor", {"phase": "90deg"}, "must be a number, not '90deg'", ("phase",)),
        ("gabor_bank", {"orientations": 0}, "must be at least 1, not 0", ("orientations",)),
        ("gabor_bank", {"orientations": 2.0}, "must be an integer, not 2.0", ("orientations",)),
        ("gabor_bank", {"orientations": 361}, "must be at most 360, not 361", ("orientations",)),
        ("gabor_bank", {"orientation": 4}, "unknown parameter 'orientation' (did you mean 'orientations'?)", ("orientation",)),
        ("dog", {"k": 1.5, "sigma2": 3}, "give either k or sigma2, not both", ("sigma2",)),
        ("dog", {"sigma": 2, "sigma2": 2}, "must differ from sigma (2.0): the two Gaussians would cancel", ("sigma2",)),
        ("dog", {"k": 1}, "must not be 1: the two Gaussians would cancel", ("k",)),
        ("dog", {"k": 0}, "must be greater than 0, not 0", ("k",)),
        ("dog", {"sigma2": -1}, "must be greater than 0, not -1", ("sigma2",)),
        ("log", {"sigma": 1e-30}, "these parameters give a kernel with NaN or inf values (in float32)", ()),
        ("gaussian", {"x" * 60: 1}, "unknown parameter '" + ("x" * 60)[:36] + "... (gaussian takes: size, sigma)", ("x" * 60,)),
    ],
)
def test_preset_errors(name: object, params: dict[str, object], message: str, path: tuple[object, ...]) -> None:
    err = error_of(preset_kernels, name, params)
    assert err.message == message
    assert err.path == path


def test_preset_error_str_names_the_path() -> None:
    assert str(error_of(preset_kernels, "gaussian", {"sigma": "abc"})) == "sigma: must be a number, not 'abc'"
    assert str(error_of(preset_kernels, "box", {"size": [3, 0]})) == "size[1]: must be at least 1, not 0"


def test_params_must_be_a_mapping() -> None:
    err = error_of(preset_kernels, "box", [1, 2])
    assert (err.message, err.path) == ("must be a mapping, not [1, 2]", ())


def test_preset_with_two_unknown_keys_reports_both(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stages:\n  - type: conv\n    filters: [{preset: gabor, wavelenght: 8, sigmaa: 2}]\n")
    r = cli("validate", str(cfg))
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: {cfg}:3:31: stages[0].filters[0].wavelenght: unknown parameter 'wavelenght' (did you mean 'wavelength'?)\n"
        f"Error: {cfg}:3:46: stages[0].filters[0].sigmaa: unknown parameter 'sigmaa' (did you mean 'sigma'?)\n")
