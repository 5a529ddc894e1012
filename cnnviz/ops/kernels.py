"""Named kernel presets (random banks: :mod:`cnnviz.ops.random_kernels`; files: :mod:`cnnviz.io.arrays`).

Everything here returns fresh ``float64`` arrays (the caller casts to the run's
dtype); every user mistake is a :class:`~cnnviz.errors.CnnvizError` whose
``path`` is relative to the filter entry (``("sigma",)``, ``("size", 0)``,
``("preset",)``); callers prepend their own part.

Conventions
-----------
* Kernels are indexed ``[row, column]``; rows go **down**, columns go
  **right**, exactly like the image they are applied to.  Coordinates used in
  formulas are ``x`` = column offset from the kernel centre (positive to the
  right) and ``y`` = row offset from the centre (positive **downward**).
* The kernel centre of a side of length ``k`` is at ``(k - 1) / 2``; for an
  even ``k`` that is between two pixels (the smooth kernels are sampled
  symmetrically around it) and the ``identity`` kernel puts its 1 at index
  ``(k - 1) // 2``, the cell that ``padding: same`` (``before = total // 2``)
  aligns with the output pixel.
* conv stages are cross-correlations by default, so a kernel is read as
  "weights laid over the image".  Under that reading the x-derivative kernels
  (``sobel_x``, ``scharr_x``, ``prewitt_x``) respond **positively to intensity
  increasing to the right**, and the y-derivative kernels respond
  **positively to intensity increasing downward** (along the row index).
  With ``flip: true`` (true convolution) both signs reverse.
* Angles (``theta``, ``phase``) are in degrees.  Because ``y`` points down,
  ``theta`` turns from the +x axis (right) towards +y (down), i.e. clockwise
  as the kernel is displayed.  This is the convention of
  :func:`skimage.filters.gabor_kernel` (with ``frequency = 1/wavelength``,
  ``sigma_x = sigma``, ``sigma_y = sigma/gamma``, ``theta`` and ``offset`` in
  radians): for ``zero_mean: false`` our ``gabor`` is exactly
  ``2*pi*sigma_x*sigma_y * gabor_kernel(...).real`` cropped to our size.

Shapes
------
* :func:`preset_kernels` -> ``(N, k_h, k_w)``, ``N = 1`` except ``gabor_bank``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..errors import CnnvizError, ConfigErrors, PathItem, did_you_mean
from ..limits import (
    MAX_ORIENTATIONS,
    as_bool,
    as_int,
    as_mapping,
    as_number,
    as_size,
    check_kernel_values,
    show,
)

__all__ = [
    "PRESETS",
    "ParamSpec",
    "PresetSpec",
    "preset_kernels",
    "preset_labels",
    "unknown_parameter",
]

ParamKind = Literal["int", "size", "number", "bool"]

_KIND_NAMES: dict[str, str] = {
    "int": "int",
    "size": "int or [h, w]",
    "number": "number",
    "bool": "bool",
}


def unknown_parameter(key: Any, owner: str, choices: Sequence[str]) -> CnnvizError:
    """``unknown parameter 'sigm' (did you mean 'sigma'?)``, or list the choices."""
    hint = did_you_mean(str(key), choices)
    if not hint:
        takes = ", ".join(choices) if choices else None
        hint = f" ({owner} takes: {takes})" if takes else f" ({owner} takes no parameters)"
    return CnnvizError(f"unknown parameter {show(str(key))}{hint}", (str(key),), at_key=True)


# --------------------------------------------------------------------------
# Preset specifications
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a preset.

    Attributes
    ----------
    kind : {"int", "size", "number", "bool"}
        ``size`` is an int or ``[h, w]``; ``number`` accepts ints and floats
        (never bools) and must be finite.
    default : Any
        Value used when the parameter is absent.  ``None`` means "computed
        from the others" (see ``default_text``).
    doc : str
        One line for ``cnnviz presets``.
    minimum : float or None
        Lower bound, inclusive unless ``exclusive``.
    exclusive : bool
        Whether ``minimum`` itself is refused.
    maximum : float or None
        Upper bound, inclusive.
    shown_default : str or None
        How to show a computed default (e.g. ``"k * sigma"``).
    """

    kind: ParamKind
    default: Any
    doc: str
    minimum: float | None = None
    exclusive: bool = False
    maximum: float | None = None
    shown_default: str | None = None

    @property
    def type_name(self) -> str:
        """Human name of the accepted type: ``int``, ``int or [h, w]``, ``number``, ``bool``."""
        return _KIND_NAMES[self.kind]

    @property
    def default_text(self) -> str:
        """The default as a user would write it (``5``, ``1.0``, ``true``, ``k * sigma``)."""
        if self.shown_default is not None:
            return self.shown_default
        return show(self.default)

    def parse(self, value: Any, path: Sequence[PathItem]) -> Any:
        """Check ``value`` and return it as ``int``, ``(h, w)``, ``float`` or ``bool``."""
        if self.kind == "int":
            return as_int(value, path, self.minimum, self.maximum)
        if self.kind == "size":
            return as_size(value, path)
        if self.kind == "number":
            return as_number(value, path, self.minimum, self.exclusive, self.maximum)
        return as_bool(value, path)


@dataclass(frozen=True)
class PresetSpec:
    """A named kernel recipe.

    Attributes
    ----------
    name : str
        The preset's name (``sobel_x``).
    description : str
        One line for ``cnnviz presets``.
    function : callable
        ``function(**params) -> ndarray (N, k_h, k_w) float64``, called with
        every parameter in ``params`` already checked and defaulted.
    params : mapping of str to ParamSpec
        The parameters, in the order they are listed.
    source : str
        Where the matrix or formula comes from, and its sign convention.
    """

    name: str
    description: str
    function: Callable[..., np.ndarray]
    params: Mapping[str, ParamSpec] = field(default_factory=dict)
    source: str = ""

    def defaults(self) -> dict[str, Any]:
        """Parameter name -> default value (``None`` for computed defaults)."""
        return {k: p.default for k, p in self.params.items()}


def _fixed(rows: Sequence[Sequence[float]]) -> Callable[[], np.ndarray]:
    """A parameterless preset returning a fresh copy of ``rows`` as (1, h, w)."""
    frozen = tuple(tuple(float(v) for v in row) for row in rows)

    def kernel() -> np.ndarray:
        return np.array(frozen, dtype=np.float64)[None]

    return kernel


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Centred coordinates ``(y, x)``: y (h, 1) grows downward, x (1, w) to the right."""
    h, w = size
    y = np.arange(h, dtype=np.float64)[:, None] - (h - 1) / 2
    x = np.arange(w, dtype=np.float64)[None, :] - (w - 1) / 2
    return y, x


def _cos_sin_degrees(angle: float) -> tuple[float, float]:
    """cos and sin of an angle in degrees, exact at multiples of 90."""
    reduced = math.fmod(angle, 360.0)
    exact = {0.0: (1.0, 0.0), 90.0: (0.0, 1.0), 180.0: (-1.0, 0.0), 270.0: (0.0, -1.0)}
    key = reduced + 360.0 if reduced < 0 else reduced
    if key in exact:
        return exact[key]
    rad = math.radians(angle)
    return math.cos(rad), math.sin(rad)


def _normalised_gaussian(size: tuple[int, int], sigma: float) -> np.ndarray:
    """Sampled isotropic Gaussian (h, w), summing to 1, with ``rho^2 = r^2/sigma^2``."""
    y, x = _grid(size)
    exponent = -0.5 * ((x / sigma) ** 2 + (y / sigma) ** 2)
    g: np.ndarray = np.exp(exponent - exponent.max())  # largest sample 1: never all zeros
    g /= g.sum()
    return g


def _identity(size: tuple[int, int]) -> np.ndarray:
    h, w = size
    k = np.zeros((1, h, w), dtype=np.float64)
    k[0, (h - 1) // 2, (w - 1) // 2] = 1.0
    return k


def _box(size: tuple[int, int]) -> np.ndarray:
    h, w = size
    return np.full((1, h, w), 1.0 / (h * w), dtype=np.float64)


def _gaussian(size: tuple[int, int], sigma: float) -> np.ndarray:
    return _normalised_gaussian(size, sigma)[None]


def _log(size: tuple[int, int], sigma: float) -> np.ndarray:
    # MATLAB fspecial('log'): h = G / sum(G); h1 = h * (r^2 - 2 s^2) / s^4;
    # h = h1 - mean(h1).  Written with rho = r / s so tiny sigmas stay finite.
    y, x = _grid(size)
    rho2 = (x / sigma) ** 2 + (y / sigma) ** 2
    g = _normalised_gaussian(size, sigma)
    h: np.ndarray = g * (rho2 - 2.0) / sigma**2
    h -= h.mean()
    return h[None]


def _dog(size: tuple[int, int], sigma: float, k: float, sigma2: float | None) -> np.ndarray:
    s2 = k * sigma if sigma2 is None else sigma2
    d: np.ndarray = _normalised_gaussian(size, sigma) - _normalised_gaussian(size, s2)
    d -= d.mean()  # exactly zero-sum, also after rounding
    return d[None]


def _gabor_one(
    size: tuple[int, int],
    sigma: float,
    theta: float,
    wavelength: float,
    gamma: float,
    phase: float,
    zero_mean: bool,
) -> np.ndarray:
    y, x = _grid(size)
    c, s = _cos_sin_degrees(theta)
    xr = x * c + y * s
    yr = -x * s + y * c
    envelope = np.exp(-0.5 * ((xr / sigma) ** 2 + (gamma * (yr / sigma)) ** 2))
    carrier = np.cos(2.0 * math.pi * (xr / wavelength) + math.radians(phase))
    if zero_mean:
        weight = float(envelope.sum())
        if weight > 0.0:
            carrier = carrier - float((envelope * carrier).sum()) / weight
    out: np.ndarray = envelope * carrier
    return out


def _gabor(
    size: tuple[int, int],
    sigma: float,
    theta: float,
    wavelength: float,
    gamma: float,
    phase: float,
    zero_mean: bool,
) -> np.ndarray:
    return _gabor_one(size, sigma, theta, wavelength, gamma, phase, zero_mean)[None]


def _gabor_bank(
    orientations: int,
    size: tuple[int, int],
    sigma: float,
    theta: float,
    wavelength: float,
    gamma: float,
    phase: float,
    zero_mean: bool,
) -> np.ndarray:
    return np.stack(
        [
            _gabor_one(
                size, sigma, theta + 180.0 * i / orientations, wavelength, gamma, phase, zero_mean
            )
            for i in range(orientations)
        ]
    )


def _size(default: int, doc: str = "kernel side, or [height, width]") -> ParamSpec:
    return ParamSpec("size", default, doc)


def _sigma(default: float, doc: str = "standard deviation of the Gaussian, in pixels") -> ParamSpec:
    return ParamSpec("number", default, doc, minimum=0, exclusive=True)


_GABOR_PARAMS: dict[str, ParamSpec] = {
    "size": _size(15),
    "sigma": _sigma(3.0, "standard deviation of the Gaussian envelope along the wave, in pixels"),
    "theta": ParamSpec(
        "number", 0, "direction of the wave in degrees, from +x (right) towards +y (down)"
    ),
    "wavelength": ParamSpec(
        "number", 6.0, "wavelength of the cosine, in pixels", minimum=0, exclusive=True
    ),
    "gamma": ParamSpec(
        "number", 0.5, "aspect ratio: envelope sigma across the wave is sigma / gamma",
        minimum=0, exclusive=True,
    ),
    "phase": ParamSpec("number", 0, "phase offset of the cosine in degrees (0 even, 90 odd)"),
    "zero_mean": ParamSpec(
        "bool", True, "subtract the carrier's mean under the envelope, so the kernel sums to 0"
    ),
}

_DERIVATIVE_X = "x-derivative, positive where intensity increases to the right"
_DERIVATIVE_Y = "y-derivative, positive where intensity increases downward"

#: Every preset by name, in the order ``cnnviz presets`` lists them.
PRESETS: dict[str, PresetSpec] = {
    spec.name: spec
    for spec in [
        PresetSpec(
            "identity", "a single 1 at the centre: passes the input through",
            _identity, {"size": _size(3)},
            "the 1 sits at index ((h-1)//2, (w-1)//2), the pixel `padding: same` aligns",
        ),
        PresetSpec(
            "box", "mean filter: every weight 1/(h*w), sums to 1", _box, {"size": _size(3)},
            "normalised box (mean) filter",
        ),
        PresetSpec(
            "gaussian", "sampled Gaussian blur, normalised to sum 1", _gaussian,
            {"size": _size(5), "sigma": _sigma(1.0)},
            "exp(-(x^2 + y^2) / (2 sigma^2)) on the centred grid, divided by its sum",
        ),
        PresetSpec(
            "sharpen", "[[0,-1,0],[-1,5,-1],[0,-1,0]]: sharpening, sums to 1",
            _fixed([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
            source="Wikipedia, 'Kernel (image processing)': sharpen",
        ),
        PresetSpec(
            "emboss",
            "[[-2,-1,0],[-1,1,1],[0,1,2]]: relief effect, bright where intensity rises "
            "toward the lower right; sums to 1",
            _fixed([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
            source="the classic emboss kernel (e.g. setosa.io 'Image Kernels')",
        ),
        PresetSpec(
            "sobel_x", "Sobel [[-1,0,1],[-2,0,2],[-1,0,1]]: " + _DERIVATIVE_X,
            _fixed([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
            source="Sobel-Feldman operator, Gx as in OpenCV/Wikipedia "
            "(signs for cross-correlation)",
        ),
        PresetSpec(
            "sobel_y", "Sobel [[-1,-2,-1],[0,0,0],[1,2,1]]: " + _DERIVATIVE_Y,
            _fixed([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]),
            source="Sobel-Feldman operator, transpose of sobel_x (y down)",
        ),
        PresetSpec(
            "scharr_x", "Scharr [[-3,0,3],[-10,0,10],[-3,0,3]]: " + _DERIVATIVE_X,
            _fixed([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]),
            source="Scharr (2000), as in OpenCV's Scharr(dx=1)",
        ),
        PresetSpec(
            "scharr_y", "Scharr [[-3,-10,-3],[0,0,0],[3,10,3]]: " + _DERIVATIVE_Y,
            _fixed([[-3, -10, -3], [0, 0, 0], [3, 10, 3]]),
            source="Scharr (2000), transpose of scharr_x (y down)",
        ),
        PresetSpec(
            "prewitt_x", "Prewitt [[-1,0,1],[-1,0,1],[-1,0,1]]: " + _DERIVATIVE_X,
            _fixed([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
            source="Prewitt (1970) operator, Gx",
        ),
        PresetSpec(
            "prewitt_y", "Prewitt [[-1,-1,-1],[0,0,0],[1,1,1]]: " + _DERIVATIVE_Y,
            _fixed([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]),
            source="Prewitt (1970) operator, transpose of prewitt_x (y down)",
        ),
        PresetSpec(
            "laplacian", "4-neighbour Laplacian [[0,1,0],[1,-4,1],[0,1,0]], sums to 0",
            _fixed([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
            source="discrete Laplace operator, 5-point stencil (negative centre)",
        ),
        PresetSpec(
            "laplacian_diag", "8-neighbour Laplacian [[1,1,1],[1,-8,1],[1,1,1]], sums to 0",
            _fixed([[1, 1, 1], [1, -8, 1], [1, 1, 1]]),
            source="discrete Laplace operator with diagonals, 9-point stencil (negative centre)",
        ),
        PresetSpec(
            "log", "Laplacian of Gaussian: blob/edge detector, negative centre, sums to 0", _log,
            {"size": _size(9), "sigma": _sigma(1.4)},
            "MATLAB fspecial('log'): G/sum(G) * (x^2+y^2-2 sigma^2)/sigma^4, minus its mean",
        ),
        PresetSpec(
            "dog",
            "difference of Gaussians G(sigma) - G(sigma2): positive centre when "
            "sigma2 > sigma, sums to 0",
            _dog,
            {
                "size": _size(9),
                "sigma": _sigma(1.0, "standard deviation of the centre Gaussian, in pixels"),
                "k": ParamSpec(
                    "number", 1.6, "sigma2 = k * sigma when sigma2 is not given",
                    minimum=0, exclusive=True,
                ),
                "sigma2": ParamSpec(
                    "number", None, "standard deviation of the surround Gaussian, in pixels",
                    minimum=0, exclusive=True, shown_default="k * sigma",
                ),
            },
            "each Gaussian sampled and normalised to sum 1 (as skimage's "
            "difference_of_gaussians: low sigma minus high sigma), then the mean removed",
        ),
        PresetSpec(
            "gabor",
            "real Gabor kernel exp(-(x'^2 + gamma^2 y'^2)/(2 sigma^2)) "
            "* cos(2 pi x'/wavelength + phase)",
            _gabor, dict(_GABOR_PARAMS),
            "x' = x cos(theta) + y sin(theta), y' = -x sin(theta) + y cos(theta), y pointing "
            "down (scikit-image's gabor_kernel convention); peak 1 before zero_mean",
        ),
        PresetSpec(
            "gabor_bank",
            "several gabor kernels at theta + 180*i/orientations degrees, i = 0..orientations-1",
            _gabor_bank,
            {
                "orientations": ParamSpec(
                    "int", 8, "number of kernels, evenly spaced over 180 degrees",
                    minimum=1, maximum=MAX_ORIENTATIONS,
                ),
                **_GABOR_PARAMS,
                "theta": ParamSpec(
                    "number", 0, "direction of the first kernel's wave in degrees "
                    "(from +x towards +y, down)"
                ),
            },
            "gabor, repeated over orientations",
        ),
    ]
}


def _resolve_params(spec: PresetSpec, params: Mapping[Any, Any]) -> dict[str, Any]:
    """Check ``params`` against ``spec`` and fill in defaults."""
    choices = list(spec.params)
    errors = [unknown_parameter(key, spec.name, choices) for key in params
              if key != "preset" and (not isinstance(key, str) or key not in spec.params)]
    resolved: dict[str, Any] = {}
    for name, pspec in spec.params.items():
        try:
            if name in params:
                resolved[name] = pspec.parse(params[name], (name,))
            elif pspec.default is None:
                resolved[name] = None
            else:
                resolved[name] = pspec.parse(pspec.default, (name,))
        except CnnvizError as err:
            errors.append(err)
    if errors:  # every unknown or wrong parameter, as a stage's keys are reported
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    if spec.name == "dog":
        if "k" in params and "sigma2" in params:
            raise CnnvizError("give either k or sigma2, not both", ("sigma2",))
        if resolved["sigma2"] is not None and resolved["sigma2"] == resolved["sigma"]:
            raise CnnvizError(
                f"must differ from sigma ({show(resolved['sigma'])}): "
                "the two Gaussians would cancel",
                ("sigma2",),
            )
        if resolved["sigma2"] is None and resolved["k"] == 1.0:
            raise CnnvizError("must not be 1: the two Gaussians would cancel", ("k",))
    return resolved


def preset_kernels(name: str, params: Mapping[str, Any]) -> np.ndarray:
    """Build the kernels of a named preset.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS`.
    params : mapping
        The entry's parameters (a ``preset`` key, if present, is ignored so
        the whole entry mapping may be passed).  Missing parameters take
        their defaults.

    Returns
    -------
    ndarray, shape (N, k_h, k_w), float64
        ``N = 1`` for every preset except ``gabor_bank`` (``N = orientations``).
        A fresh array; the caller may modify or cast it.

    Raises
    ------
    CnnvizError
        ``unknown preset 'sobelx' (did you mean 'sobel_x'?)`` at ``("preset",)``;
        ``unknown parameter 'sigm' (did you mean 'sigma'?)`` at ``("sigm",)``;
        ``must be a number, not 'abc'``, ``must be greater than 0, not 0``,
        ``must be at least 1, not 0``, ... at the parameter's path.
    """
    if not isinstance(name, str):
        raise CnnvizError(f"must be a preset name, not {show(name)}", ("preset",))
    spec = PRESETS.get(name)
    if spec is None:
        raise CnnvizError(f"unknown preset '{name}'" + did_you_mean(name, PRESETS), ("preset",))
    resolved = _resolve_params(spec, as_mapping(params, ()))
    kh, kw = resolved.get("size", (3, 3))
    check_kernel_values(int(resolved.get("orientations", 1)), kh, kw, 1)
    kernels = np.ascontiguousarray(spec.function(**resolved), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(np.isfinite(kernels.astype(np.float32)).all())
    if not finite:
        raise CnnvizError("these parameters give a kernel with NaN or inf values (in float32)")
    return kernels


def _g(v: float) -> str:
    return f"{v:g}".replace("-", "−")


def preset_labels(name: str, params: Mapping[str, Any]) -> list[str]:
    """Short names of the kernels :func:`preset_kernels` makes, for picture labels.

    >>> preset_labels("sobel_x", {}), preset_labels("gabor_bank", {"orientations": 2, "wavelength": 6})
    (['sobel_x'], ['gabor θ=0° λ=6', 'gabor θ=90° λ=6'])
    >>> preset_labels("log", {"sigma": 1.4, "size": 9})
    ['log σ=1.4']
    """
    spec = PRESETS[name]
    p = _resolve_params(spec, params)
    if name in ("gabor", "gabor_bank"):
        n = int(p.get("orientations", 1))
        return [f"gabor θ={_g(p['theta'] + 180.0 * i / n)}° λ={_g(p['wavelength'])}" for i in range(n)]
    if name in ("gaussian", "log"):
        return [f"{name} σ={_g(p['sigma'])}"]
    if name == "dog":
        return [f"dog σ={_g(p['sigma'])}"]
    if name == "box":
        h, w = p["size"]
        return [f"box {h}×{w}"]
    return [name]
