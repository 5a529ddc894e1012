"""Reference implementations that cnnviz is measured against.

Every reference computes exactly what cnnviz computes (``benchmarks/run.py``
checks each one against cnnviz with ``allclose`` before it times it), in the
way the tool it stands for does it:

=================  ==========================================================
``loop_*``         NumPyCNN's algorithm (Ahmed Gad's ``numpycnn.py``, the seed
                   project): Python loops over every output pixel of every
                   filter and channel, one ``region * filter`` sum each; ReLU
                   and max-pooling also loop over pixels.  Two deliberate
                   differences, neither of which changes the amount of work:
                   pooling uses floor mode (NumPyCNN's ``uint16((n-size+1)/
                   stride+1)`` adds an all-zero last row/column for odd sizes,
                   a known bug) and the conv keeps the *valid* region with the
                   window's top-left at the output pixel for any kernel size.
``tensordot_*``    Plain NumPy: ``sliding_window_view`` + ``np.tensordot``
                   (which copies the window view into a full patch matrix and
                   makes one BLAS call per stage), ``np.maximum`` and a
                   reshape-max pooling.
``ndimage_*``      ``scipy.ndimage.correlate`` per (filter, channel), cropped
                   to the valid region and summed over channels.
``signal_*``       ``scipy.signal.correlate2d(mode='valid')`` per (filter,
                   channel), summed over channels.
``torch_*``        PyTorch CPU float32: ``torch.nn.functional.conv2d``,
                   ``relu`` and ``max_pool2d`` on an NCHW tensor (PyTorch's
                   native layout; conversions are done before timing).
``matplotlib_grid``  ``plt.subplots(8, 8)`` + ``imshow`` per map + ``savefig``:
                   how a grid of feature maps is usually drawn.
``pillow_grid``    one composed uint8 array (per-map min/max scaling, NumPy
                   tiling) saved as a grayscale PNG with Pillow's defaults.
=================  ==========================================================

A *stack* is a list of stages: ``("conv", kernels)`` with ``kernels`` of shape
``(N, kh, kw, C)`` (cross-correlation, valid padding, stride 1, no bias),
``("relu",)`` and ``("pool", size)`` (max pooling, stride = size, floor mode).
Arrays are channel-last ``(H, W, C)`` except in the ``torch_*`` functions.
Every ``*_stack`` function returns the list of every stage's output (the
"keep every stage" case that the memory row measures).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Stage = tuple  # ("conv", kernels) | ("relu",) | ("pool", size)

__all__ = [
    "conv_flops",
    "run_stack",
    "loop_conv",
    "loop_relu",
    "loop_pool",
    "loop_stack",
    "tensordot_conv",
    "np_relu",
    "np_pool",
    "tensordot_stack",
    "ndimage_conv",
    "ndimage_stack",
    "signal_conv",
    "signal_stack",
    "torch_available",
    "torch_setup",
    "to_torch",
    "torch_kernels",
    "torch_stack",
    "torch_conv",
    "matplotlib_grid",
    "pillow_grid",
    "normalize_per_map",
]


# ---------------------------------------------------------------------------
# Shared helpers


def conv_flops(stack: Sequence[Stage], shape: tuple[int, int, int]) -> list[int]:
    """FLOPs (2 × multiply-adds) of every conv stage of ``stack`` on an input of ``shape``."""
    h, w, _ = shape
    out = []
    for st in stack:
        if st[0] == "conv":
            n, kh, kw, kc = st[1].shape
            h, w = h - kh + 1, w - kw + 1
            out.append(2 * h * w * n * kh * kw * kc)
        elif st[0] == "pool":
            h, w = h // st[1], w // st[1]
    return out


def run_stack(
    x: Any,
    stack: Sequence[Stage],
    conv: Callable[[Any, Any], Any],
    relu: Callable[[Any], Any],
    pool: Callable[[Any, int], Any],
    keep: bool = True,
) -> list[Any]:
    """Apply ``stack`` with the given stage functions; every output (or only the last)."""
    outs = []
    for st in stack:
        if st[0] == "conv":
            x = conv(x, st[1])
        elif st[0] == "relu":
            x = relu(x)
        elif st[0] == "pool":
            x = pool(x, st[1])
        else:  # pragma: no cover - programming error
            raise ValueError(st)
        if keep:
            outs.append(x)
    return outs if keep else [x]


# ---------------------------------------------------------------------------
# NumPyCNN's loops


def _loop_conv_2d(img: np.ndarray, filt: np.ndarray) -> np.ndarray:
    """NumPyCNN's ``conv_``: one Python iteration per output pixel."""
    kh, kw = filt.shape
    ho, wo = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    result = np.zeros((ho, wo))
    for r in range(ho):
        for c in range(wo):
            curr_region = img[r : r + kh, c : c + kw]
            curr_result = curr_region * filt
            result[r, c] = np.sum(curr_result)
    return result


def loop_conv(img: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """NumPyCNN's ``conv``: per filter, per channel ``conv_``, channels summed.  float64 out."""
    n, kh, kw, c = kernels.shape
    ho, wo = img.shape[0] - kh + 1, img.shape[1] - kw + 1
    feature_maps = np.zeros((ho, wo, n))
    for filter_num in range(n):
        curr_filter = kernels[filter_num]
        conv_map = _loop_conv_2d(img[:, :, 0], curr_filter[:, :, 0])
        for ch_num in range(1, c):
            conv_map = conv_map + _loop_conv_2d(img[:, :, ch_num], curr_filter[:, :, ch_num])
        feature_maps[:, :, filter_num] = conv_map
    return feature_maps


def loop_relu(feature_map: np.ndarray) -> np.ndarray:
    """NumPyCNN's ``relu``: ``max([v, 0])`` per pixel."""
    relu_out = np.zeros(feature_map.shape)
    for map_num in range(feature_map.shape[-1]):
        for r in range(feature_map.shape[0]):
            for c in range(feature_map.shape[1]):
                relu_out[r, c, map_num] = np.max([feature_map[r, c, map_num], 0])
    return relu_out


def loop_pool(feature_map: np.ndarray, size: int = 2, stride: int | None = None) -> np.ndarray:
    """NumPyCNN's ``pooling`` (max), in floor mode: ``max`` of each window per pixel."""
    stride = size if stride is None else stride
    ho = (feature_map.shape[0] - size) // stride + 1
    wo = (feature_map.shape[1] - size) // stride + 1
    pool_out = np.zeros((ho, wo, feature_map.shape[-1]))
    for map_num in range(feature_map.shape[-1]):
        for r2 in range(ho):
            r = r2 * stride
            for c2 in range(wo):
                c = c2 * stride
                pool_out[r2, c2, map_num] = np.max([feature_map[r : r + size, c : c + size, map_num]])
    return pool_out


def loop_stack(x: np.ndarray, stack: Sequence[Stage], keep: bool = True) -> list[np.ndarray]:
    """The whole stack with NumPyCNN's loops (float64 arithmetic, as NumPyCNN does)."""
    return run_stack(np.asarray(x, np.float64), stack, loop_conv, loop_relu, loop_pool, keep)


# ---------------------------------------------------------------------------
# Plain NumPy: sliding_window_view + tensordot


def tensordot_conv(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Valid cross-correlation: windows (H', W', C, kh, kw) · kernels -> (H', W', N)."""
    n, kh, kw, c = kernels.shape
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(0, 1))
    return np.tensordot(win, kernels.transpose(3, 1, 2, 0), axes=([2, 3, 4], [0, 1, 2]))


def np_relu(x: np.ndarray) -> np.ndarray:
    """``np.maximum(x, 0)``."""
    return np.maximum(x, 0)


def np_pool(x: np.ndarray, size: int) -> np.ndarray:
    """Max pooling, stride = size, floor mode, by a reshape and one ``max``."""
    h, w, c = x.shape
    ho, wo = h // size, w // size
    return x[: ho * size, : wo * size].reshape(ho, size, wo, size, c).max(axis=(1, 3))


def tensordot_stack(x: np.ndarray, stack: Sequence[Stage], keep: bool = True) -> list[np.ndarray]:
    return run_stack(x, stack, tensordot_conv, np_relu, np_pool, keep)


# ---------------------------------------------------------------------------
# SciPy


def ndimage_conv(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.correlate`` per (filter, channel) on the full image, cropped to valid."""
    from scipy import ndimage

    n, kh, kw, c = kernels.shape
    h, w = x.shape[:2]
    ho, wo = h - kh + 1, w - kw + 1
    # ndimage centres the kernel at index k // 2: the valid output for the
    # window starting at (i, j) sits at (i + kh // 2, j + kw // 2).
    top, left = kh // 2, kw // 2
    out = np.empty((ho, wo, n), dtype=x.dtype)
    for f in range(n):
        acc = None
        for ch in range(c):
            r = ndimage.correlate(x[:, :, ch], kernels[f, :, :, ch], mode="constant")[top : top + ho, left : left + wo]
            acc = r if acc is None else acc + r
        out[:, :, f] = acc
    return out


def ndimage_stack(x: np.ndarray, stack: Sequence[Stage], keep: bool = True) -> list[np.ndarray]:
    return run_stack(x, stack, ndimage_conv, np_relu, np_pool, keep)


def signal_conv(x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """``scipy.signal.correlate2d(mode='valid')`` per (filter, channel), summed over channels."""
    from scipy import signal

    n, kh, kw, c = kernels.shape
    ho, wo = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    out = np.empty((ho, wo, n), dtype=x.dtype)
    for f in range(n):
        acc = None
        for ch in range(c):
            r = signal.correlate2d(x[:, :, ch], kernels[f, :, :, ch], mode="valid")
            acc = r if acc is None else acc + r
        out[:, :, f] = acc
    return out


def signal_stack(x: np.ndarray, stack: Sequence[Stage], keep: bool = True) -> list[np.ndarray]:
    return run_stack(x, stack, signal_conv, np_relu, np_pool, keep)


# ---------------------------------------------------------------------------
# PyTorch (optional)


def torch_available() -> tuple[bool, str]:
    """(importable, version or the reason it is not)."""
    try:
        import torch
    except Exception as err:  # ImportError, or a broken install
        return False, f"torch not importable ({type(err).__name__}: {err})"
    return True, torch.__version__


def torch_setup(threads: int | None = None) -> Any:
    """Import torch, set its intra-op threads to the machine's cores; return the module."""
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)
    return torch


def to_torch(x: np.ndarray) -> Any:
    """(H, W, C) array -> contiguous (1, C, H, W) float32 tensor (a copy)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32))


def from_torch(t: Any) -> np.ndarray:
    """(1, C, H, W) tensor -> (H, W, C) array."""
    return t[0].permute(1, 2, 0).numpy()


def torch_kernels(stack: Sequence[Stage]) -> list[Stage]:
    """The stack with (N, kh, kw, C) kernels turned into (N, C, kh, kw) float32 tensors."""
    import torch

    out = []
    for st in stack:
        if st[0] == "conv":
            k = np.ascontiguousarray(st[1].transpose(0, 3, 1, 2), dtype=np.float32)
            out.append(("conv", torch.from_numpy(k)))
        else:
            out.append(st)
    return out


def torch_conv(x: Any, k: Any) -> Any:
    import torch.nn.functional as F

    return F.conv2d(x, k)


def _torch_pool(x: Any, size: int) -> Any:
    import torch.nn.functional as F

    return F.max_pool2d(x, size)


def _torch_relu(x: Any) -> Any:
    import torch.nn.functional as F

    return F.relu(x)


def torch_stack(x: Any, tstack: Sequence[Stage], keep: bool = True) -> list[Any]:
    """The stack in PyTorch; ``tstack`` from :func:`torch_kernels`, ``x`` from :func:`to_torch`."""
    import torch

    with torch.inference_mode():
        return run_stack(x, tstack, torch_conv, _torch_relu, _torch_pool, keep)


# ---------------------------------------------------------------------------
# Grids of maps to PNG


def normalize_per_map(maps: np.ndarray) -> np.ndarray:
    """(H, W, N) -> (H, W, N) in [0, 1], each map scaled by its own min..max (a constant map to 0)."""
    lo = maps.min(axis=(0, 1), keepdims=True)
    hi = maps.max(axis=(0, 1), keepdims=True)
    span = np.where(hi > lo, hi - lo, 1)
    return (maps - lo) / span


def matplotlib_grid(maps: np.ndarray, path: str | os.PathLike[str], cmap: str = "gray", dpi: int = 100) -> Any:
    """``plt.subplots(rows, cols)`` + ``imshow`` per map + ``savefig``; returns the figure (closed).

    The figure is sized so that every map gets about its own pixel count.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w, n = maps.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * w / dpi, rows * h / dpi), squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i < n:
            ax.imshow(maps[:, :, i], cmap=cmap)
        ax.axis("off")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return fig


def pillow_grid(maps: np.ndarray, path: str | os.PathLike[str]) -> np.ndarray:
    """Per-map min/max to uint8, tiled near-square with NumPy, saved as an 'L' PNG (Pillow defaults).

    Returns the composed uint8 array.
    """
    from PIL import Image

    h, w, n = maps.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    q = np.rint(normalize_per_map(maps) * 255).astype(np.uint8)
    grid = np.zeros((rows, h, cols, w), np.uint8)
    tiles = np.zeros((rows * cols, h, w), np.uint8)
    tiles[:n] = q.transpose(2, 0, 1)
    grid[:] = tiles.reshape(rows, cols, h, w).transpose(0, 2, 1, 3)
    composed = grid.reshape(rows * h, cols * w)
    Image.fromarray(composed).save(path, format="PNG")
    return composed
