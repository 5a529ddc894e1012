"""Kernels: named presets, random banks, dense weight matrices and kernel files.

Everything here returns fresh ``float64`` arrays (the caller casts to the run's
dtype); every user mistake is a :class:`~cnnviz.errors.CnnvizError` whose
``path`` is relative to the filter entry (``("sigma",)``, ``("size", 0)``,
``("preset",)``, ``("file",)``, ``("key",)``); callers prepend their own part.

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
* :func:`random_kernels` -> ``(count, k_h, k_w, C)``.
* :func:`random_matrix` -> ``(units, inputs)``.
* :func:`load_kernel_file` -> ``(N, k_h, k_w)`` or ``(N, k_h, k_w, C)``.
* :func:`load_array_file` -> the file's own shape (dense weights).
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import CnnvizError, PathItem, did_you_mean

__all__ = [
    "MAX_COUNT",
    "MAX_ORIENTATIONS",
    "MAX_SIDE",
    "DISTRIBUTIONS",
    "PRESETS",
    "ParamSpec",
    "PresetSpec",
    "load_array_file",
    "load_kernel_file",
    "preset_kernels",
    "random_kernels",
    "random_matrix",
]

#: Largest kernel side (rows or columns) a preset or random entry may ask for.
MAX_SIDE = 1025
#: Most kernels one ``random`` entry may make.
MAX_COUNT = 4096
#: Most orientations one ``gabor_bank`` may make.
MAX_ORIENTATIONS = 360

ParamKind = Literal["int", "size", "number", "bool"]

_KIND_NAMES: dict[str, str] = {
    "int": "int",
    "size": "int or [h, w]",
    "number": "number",
    "bool": "bool",
}


# --------------------------------------------------------------------------
# Wording of values and checks
# --------------------------------------------------------------------------


def _show(value: Any) -> str:
    """Show a user's value the way they wrote it (YAML spelling), briefly.

    >>> _show("abc"), _show(True), _show(None), _show(2.0), _show([1, "a"])
    ("'abc'", 'true', 'null', '2.0', "[1, 'a']")
    """
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        text = f"'{value}'"
    elif isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        text = repr(f)
    elif isinstance(value, (int, np.integer)):
        text = str(int(value))
    elif isinstance(value, Mapping):
        return "a mapping"
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    else:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fmt_bound(bound: float) -> str:
    """``0`` for ``0.0``, ``1.5`` for ``1.5``."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_range(
    value: Any,
    number: float,
    path: Sequence[PathItem],
    minimum: float | None,
    exclusive: bool,
    maximum: float | None,
) -> None:
    if minimum is not None:
        if exclusive and not number > minimum:
            raise CnnvizError(
                f"must be greater than {_fmt_bound(minimum)}, not {_show(value)}", path
            )
        if not exclusive and not number >= minimum:
            raise CnnvizError(f"must be at least {_fmt_bound(minimum)}, not {_show(value)}", path)
    if maximum is not None and number > maximum:
        raise CnnvizError(f"must be at most {_fmt_bound(maximum)}, not {_show(value)}", path)


def _as_number(
    value: Any,
    path: Sequence[PathItem],
    minimum: float | None = None,
    exclusive: bool = False,
    maximum: float | None = None,
) -> float:
    """A finite real number (ints accepted, bools not), optionally bounded."""
    if not _is_number(value):
        raise CnnvizError(f"must be a number, not {_show(value)}", path)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise CnnvizError(f"must be a finite number, not {_show(value)}", path)
    _check_range(value, number, path, minimum, exclusive, maximum)
    return number


def _as_int(
    value: Any,
    path: Sequence[PathItem],
    minimum: float | None = None,
    maximum: float | None = None,
) -> int:
    """An integer (not a bool, not a float), optionally bounded."""
    if not _is_int(value):
        raise CnnvizError(f"must be an integer, not {_show(value)}", path)
    number = int(value)
    _check_range(value, number, path, minimum, False, maximum)
    return number


def _as_size(value: Any, path: Sequence[PathItem]) -> tuple[int, int]:
    """``k`` -> ``(k, k)``; ``[h, w]`` -> ``(h, w)``; each side in 1..MAX_SIDE."""
    if _is_int(value):
        side = _as_int(value, path, 1, MAX_SIDE)
        return side, side
    if isinstance(value, (list, tuple)) and len(value) == 2:
        h = _as_int(value[0], (*path, 0), 1, MAX_SIDE)
        w = _as_int(value[1], (*path, 1), 1, MAX_SIDE)
        return h, w
    raise CnnvizError(f"must be an integer or [height, width], not {_show(value)}", path)


def _as_bool(value: Any, path: Sequence[PathItem]) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise CnnvizError(f"must be true or false, not {_show(value)}", path)
    return bool(value)


def _unknown_parameter(key: Any, owner: str, choices: Sequence[str]) -> CnnvizError:
    """``unknown parameter 'sigm' (did you mean 'sigma'?)``, or list the choices."""
    hint = did_you_mean(str(key), choices)
    if not hint:
        takes = ", ".join(choices) if choices else None
        hint = f" ({owner} takes: {takes})" if takes else f" ({owner} takes no parameters)"
    return CnnvizError(f"unknown parameter {_show(str(key))}{hint}", (str(key),), at_key=True)


def _as_mapping(value: Any, path: Sequence[PathItem]) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CnnvizError(f"must be a mapping, not {_show(value)}", path)
    return value


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
        return _show(self.default)

    def parse(self, value: Any, path: Sequence[PathItem]) -> Any:
        """Check ``value`` and return it as ``int``, ``(h, w)``, ``float`` or ``bool``."""
        if self.kind == "int":
            return _as_int(value, path, self.minimum, self.maximum)
        if self.kind == "size":
            return _as_size(value, path)
        if self.kind == "number":
            return _as_number(value, path, self.minimum, self.exclusive, self.maximum)
        return _as_bool(value, path)


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
    for key in params:
        if key == "preset":
            continue
        if not isinstance(key, str) or key not in spec.params:
            raise _unknown_parameter(key, spec.name, choices)
    resolved: dict[str, Any] = {}
    for name, pspec in spec.params.items():
        if name in params:
            resolved[name] = pspec.parse(params[name], (name,))
        elif pspec.default is None:
            resolved[name] = None
        else:
            resolved[name] = pspec.parse(pspec.default, (name,))
    if spec.name == "dog":
        if "k" in params and "sigma2" in params:
            raise CnnvizError("give either k or sigma2, not both", ("sigma2",))
        if resolved["sigma2"] is not None and resolved["sigma2"] == resolved["sigma"]:
            raise CnnvizError(
                f"must differ from sigma ({_show(resolved['sigma'])}): "
                "the two Gaussians would cancel",
                ("sigma2",),
            )
        if resolved["sigma2"] is None and resolved["k"] == 1.0:
            raise CnnvizError("must not be 1: the two Gaussians would cancel", ("k",))
    return resolved


#: Most values one filter entry may produce (count x k_h x k_w x C).
MAX_KERNEL_VALUES = 1 << 24


def _check_total(count: int, kh: int, kw: int, c: int) -> None:
    total = count * kh * kw * c
    if total > MAX_KERNEL_VALUES:
        raise CnnvizError(
            f"{count} kernel{'s' if count != 1 else ''} of {kh}×{kw}×{c} is {total:,} values, "
            f"more than the limit of {MAX_KERNEL_VALUES:,}"
        )


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
        raise CnnvizError(f"must be a preset name, not {_show(name)}", ("preset",))
    spec = PRESETS.get(name)
    if spec is None:
        raise CnnvizError(f"unknown preset '{name}'" + did_you_mean(name, PRESETS), ("preset",))
    resolved = _resolve_params(spec, _as_mapping(params, ()))
    kh, kw = resolved.get("size", (3, 3))
    _check_total(int(resolved.get("orientations", 1)), kh, kw, 1)
    kernels = np.ascontiguousarray(spec.function(**resolved), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = bool(np.isfinite(kernels.astype(np.float32)).all())
    if not finite:
        raise CnnvizError("these parameters give a kernel with NaN or inf values (in float32)")
    return kernels


# --------------------------------------------------------------------------
# Random kernels and matrices
# --------------------------------------------------------------------------

#: Distribution name -> its parameters and their defaults.
DISTRIBUTIONS: dict[str, dict[str, float]] = {
    "uniform": {"low": 0.0, "high": 1.0},
    "normal": {"mean": 0.0, "std": 1.0},
    "he": {},
    "glorot": {},
}

_DIST_PARAMS = [p for params in DISTRIBUTIONS.values() for p in params]


def _parse_random(
    spec: Mapping[str, Any], common: Sequence[str], owner: str
) -> tuple[str, dict[str, float]]:
    """Check keys (``common`` + ``dist`` + the dist's parameters); return dist and its params."""
    mapping = _as_mapping(spec, ())
    known = [*common, "dist", *_DIST_PARAMS]
    for key in mapping:
        if isinstance(key, str) and key in ("count", "size") and key not in common:
            raise CnnvizError(
                f"'{key}' does not apply to dense weights, whose shape is (units, inputs)", (key,)
            )
        if not isinstance(key, str) or key not in known:
            raise _unknown_parameter(key, owner, known)
    dist_value = mapping.get("dist", "uniform")
    if not isinstance(dist_value, str):
        raise CnnvizError(
            "must be one of " + ", ".join(DISTRIBUTIONS) + f", not {_show(dist_value)}", ("dist",)
        )
    if dist_value not in DISTRIBUTIONS:
        raise CnnvizError(
            f"unknown dist '{dist_value}'" + did_you_mean(dist_value, DISTRIBUTIONS), ("dist",)
        )
    allowed = DISTRIBUTIONS[dist_value]
    for key in mapping:
        if key in _DIST_PARAMS and key not in allowed:
            takes = f"it takes {', '.join(allowed)}" if allowed else "it takes no parameters"
            raise CnnvizError(
                f"'{key}' does not apply to dist '{dist_value}' ({takes})", (key,), at_key=True
            )
    values: dict[str, float] = {}
    for key, default in allowed.items():
        values[key] = _as_number(mapping[key], (key,)) if key in mapping else default
    if dist_value == "uniform" and values["high"] < values["low"]:
        if "high" in mapping:
            low_text = _show(mapping.get("low", 0))
            raise CnnvizError(
                f"must be at least low ({low_text}), not {_show(mapping['high'])}", ("high",)
            )
        raise CnnvizError(f"must be at most high (1), not {_show(mapping['low'])}", ("low",))
    if dist_value == "normal" and values["std"] < 0:
        raise CnnvizError(f"must be at least 0, not {_show(mapping['std'])}", ("std",))
    return dist_value, values


def _draw(
    dist: str,
    values: Mapping[str, float],
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator,
) -> np.ndarray:
    if dist == "uniform":
        out = rng.uniform(values["low"], values["high"], size=shape)
    elif dist == "normal":
        out = rng.normal(values["mean"], values["std"], size=shape)
    elif dist == "he":
        out = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    else:  # glorot (uniform)
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        out = rng.uniform(-bound, bound, size=shape)
    return np.asarray(out, dtype=np.float64)


def random_kernels(
    spec: Mapping[str, Any], in_channels: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw a bank of random kernels spanning all input channels.

    Parameters
    ----------
    spec : mapping
        The mapping under ``random:`` (``None`` counts as empty):
        ``count`` [1] (1..MAX_COUNT), ``size`` [3] (int or ``[h, w]``),
        ``dist`` [uniform] and the dist's parameters: ``uniform`` (``low``
        [0], ``high`` [1]), ``normal`` (``mean`` [0], ``std`` [1]), ``he``
        (normal, mean 0, std ``sqrt(2 / fan_in)``), ``glorot`` (uniform on
        ``+-sqrt(6 / (fan_in + fan_out))``), with ``fan_in = k_h*k_w*C`` and
        ``fan_out = k_h*k_w*count``.  A parameter of another dist is an error.
    in_channels : int
        C, the input's channel count (>= 1).
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same kernels.

    Returns
    -------
    ndarray, shape (count, k_h, k_w, in_channels), float64

    Raises
    ------
    CnnvizError
        With a path relative to the ``random`` mapping, e.g. ``("count",)``.
    """
    if not _is_int(in_channels) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, not {in_channels!r}")
    dist, values = _parse_random(spec, ("count", "size"), "random")
    mapping = _as_mapping(spec, ())
    count = _as_int(mapping.get("count", 1), ("count",), 1, MAX_COUNT)
    kh, kw = _as_size(mapping.get("size", 3), ("size",))
    c = int(in_channels)
    _check_total(count, kh, kw, c)
    return _draw(dist, values, (count, kh, kw, c), kh * kw * c, kh * kw * count, rng)


def random_matrix(
    spec: Mapping[str, Any], shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Draw a random dense weight matrix.

    Parameters
    ----------
    spec : mapping
        The mapping under ``random:``: ``dist`` and its parameters as in
        :func:`random_kernels`; ``count`` and ``size`` are errors here.
    shape : (int, int)
        ``(units, inputs)``; ``fan_in = inputs``, ``fan_out = units``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (units, inputs), float64
    """
    units, inputs = (int(shape[0]), int(shape[1]))
    if units < 1 or inputs < 1:
        raise ValueError(f"shape must be two positive integers, not {shape!r}")
    dist, values = _parse_random(spec, (), "random")
    return _draw(dist, values, (units, inputs), inputs, units, rng)


# --------------------------------------------------------------------------
# Kernel files
# --------------------------------------------------------------------------


def _kernel_shape_problem(shape: tuple[int, ...]) -> str | None:
    if len(shape) not in (2, 3, 4):
        return (
            f"kernel array has shape {shape}; expected (k_h, k_w), (N, k_h, k_w) "
            "or (N, k_h, k_w, C)"
        )
    return None


def _read_array(
    path: pathlib.Path | str,
    key: str | None,
    *,
    label: str,
    noun: str,
    shape_noun: str,
    shape_problem: Callable[[tuple[int, ...]], str | None],
) -> np.ndarray:
    """Shared loader: resolve, open without pickles, pick ``key``, check dtype/shape/finiteness.

    ``label`` names the file in messages (``filter file``), ``noun`` its
    content (``kernel``) and ``shape_noun`` the content's shape (``kernel
    array``).  Returns a C-contiguous float64 copy.
    """
    given = pathlib.Path(os.fspath(path)).expanduser()
    try:
        resolved = given.resolve()
    except (OSError, RuntimeError):
        resolved = given.absolute()
    where = ("file",)
    try:
        exists = resolved.exists()
        is_dir = resolved.is_dir()
    except OSError as exc:
        raise CnnvizError(f"cannot read {label} {resolved}: {exc.strerror or exc}", where) from None
    if not exists:
        raise CnnvizError(f"{label} not found: {resolved}", where)
    if is_dir:
        raise CnnvizError(f"{label} is a directory: {resolved}", where)
    if resolved.suffix.lower() not in (".npy", ".npz"):
        raise CnnvizError(f"{label} must end in .npy or .npz: {resolved}", where)
    if key is not None and not isinstance(key, str):
        raise CnnvizError(f"must be a string, not {_show(key)}", ("key",))

    def unreadable(exc: BaseException) -> CnnvizError:
        if isinstance(exc, ValueError) and "Object arrays" in str(exc):
            return CnnvizError(f"{noun} must hold real numbers, not dtype object", where)
        if isinstance(exc, PermissionError):
            return CnnvizError(f"cannot read {label} {resolved}: permission denied", where)
        if isinstance(exc, OSError) and exc.strerror:
            return CnnvizError(f"cannot read {label} {resolved}: {exc.strerror}", where)
        return CnnvizError(f"cannot read {label} {resolved}: not a valid .npy or .npz file", where)

    try:
        loaded = np.load(resolved, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError, BadZipFile...
        raise unreadable(exc) from None

    if isinstance(loaded, np.ndarray):
        if key is not None:
            raise CnnvizError("'key' applies only to .npz files", ("key",))
        array = loaded
    else:
        with loaded:
            names = list(loaded.files)
            if not names:
                raise CnnvizError(f"{label} holds no arrays: {resolved}", where)
            if key is None:
                if len(names) > 1:
                    raise CnnvizError(
                        f"{label} holds several arrays; choose one with key: " + ", ".join(names),
                        ("key",),
                    )
                key = names[0]
            elif key not in names:
                raise CnnvizError(
                    f"no array '{key}' in the {label}{did_you_mean(key, names)}; "
                    "it holds: " + ", ".join(names),
                    ("key",),
                )
            try:
                array = loaded[key]
            except Exception as exc:  # a damaged or pickled member
                raise unreadable(exc) from None

    dtype = array.dtype
    if not (
        np.issubdtype(dtype, np.integer)
        or np.issubdtype(dtype, np.floating)
        or np.issubdtype(dtype, np.bool_)
    ):
        raise CnnvizError(f"{noun} must hold real numbers, not dtype {dtype}", where)
    shape = tuple(int(n) for n in array.shape)
    problem = shape_problem(shape)
    if problem is not None:
        raise CnnvizError(problem, where)
    if array.size == 0:
        raise CnnvizError(f"{shape_noun} has shape {shape}, which is empty", where)
    out = np.array(array, dtype=np.float64, order="C")  # a copy
    if not np.isfinite(out).all():
        raise CnnvizError(f"{noun} contains NaN or inf", where)
    return out


def load_kernel_file(path: pathlib.Path | str, key: str | None = None) -> np.ndarray:
    """Load kernels from a ``.npy`` or ``.npz`` file (never unpickling anything).

    Parameters
    ----------
    path : pathlib.Path or str
        The file; the caller resolves a config-relative path first (a
        relative path is taken from the current directory).
    key : str or None
        For ``.npz``: which array.  Optional when the file holds exactly one
        array; an error for ``.npy``.

    Returns
    -------
    ndarray, float64
        ``(N, k_h, k_w)`` (a 2-D ``(k_h, k_w)`` array becomes ``N = 1``; a
        3-D array is always ``(N, k_h, k_w)``) or ``(N, k_h, k_w, C)``.
        Integer and bool arrays are converted.

    Raises
    ------
    CnnvizError
        At ``("file",)``: ``filter file not found: /full/resolved/path.npy``,
        ``filter file is a directory: ...``, ``filter file must end in .npy
        or .npz: ...``, ``cannot read filter file ...: permission denied``,
        ``cannot read filter file ...: not a valid .npy or .npz file``,
        ``filter file holds no arrays: ...``, ``kernel must hold real
        numbers, not dtype <U3``, ``kernel array has shape (5,); expected
        (k_h, k_w), (N, k_h, k_w) or (N, k_h, k_w, C)``, ``kernel array has
        shape (0, 3, 3), which is empty``, ``kernel contains NaN or inf``.
        At ``("key",)``: ``must be a string, not 3``, ``'key' applies only
        to .npz files``, ``filter file holds several arrays; choose one with
        key: a, b``, ``no array 'x' in the filter file (did you mean
        'y'?); it holds: a, b``.
    """
    out = _read_array(
        path, key, label="filter file",
        noun="kernel",
        shape_noun="kernel array",
        shape_problem=_kernel_shape_problem,
    )
    return out[None] if out.ndim == 2 else out


def load_array_file(path: pathlib.Path | str, key: str | None = None) -> np.ndarray:
    """Load one numeric array of any shape (dense weights) from ``.npy`` / ``.npz``.

    The same rules as :func:`load_kernel_file` except the shape, which the
    caller checks.  Messages are worded for a weights file: ``weights file
    not found: /full/path.npy``, ``cannot read weights file ...: not a valid
    .npy or .npz file``, ``array must hold real numbers, not dtype <U3``,
    ``array has shape (0, 3), which is empty``, ``array contains NaN or
    inf``; key problems as for kernel files (``no array 'x' in the weights
    file; it holds: a, b``).

    Parameters
    ----------
    path : pathlib.Path or str
    key : str or None

    Returns
    -------
    ndarray, float64, C-contiguous
        The file's array, of its own (non-empty) shape.
    """
    return _read_array(
        path,
        key,
        label="weights file",
        noun="array",
        shape_noun="array",
        shape_problem=lambda shape: None,
    )
