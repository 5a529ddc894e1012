"""One map that summarises all of a stage's channels (``render.reduce``): mean, max or PCA as RGB.

A stage of 256 or 2048 maps is "not friendly for humans" (pytorch-grad-cam
#354): ``reduce`` adds to its grid one more tile, drawn on the same scale as
the stage's maps for ``mean`` and ``max``, and for ``pca`` the first three
principal components of the channels (each pixel a C-vector) as red, green
and blue.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MODES", "principal_components", "summary"]

MODES = ("mean", "max", "pca")


def principal_components(maps: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The first ``k`` principal components of the channels, over the pixels.

    Parameters
    ----------
    maps : ndarray (H, W, C)
    k : int

    Returns
    -------
    scores : ndarray (H, W, k) float64
        Each pixel's coordinates along the components (the channels centred
        on their means); components beyond C (or the data's rank) are 0.
    explained : ndarray (k,) float64
        The share of the total variance each component explains.

    Each component's sign is fixed so that its largest loading is positive
    (a PCA is defined up to sign; this makes the picture repeatable).
    """
    h, w, c = maps.shape
    x = maps.reshape(-1, c).astype(np.float64)
    x = x - x.mean(axis=0)
    # the C × C covariance is small even for 2048 channels; its eigenvectors are the SVD's right vectors
    cov = x.T @ x
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:k]
    vecs = vecs[:, order]
    vals = np.clip(vals[order], 0.0, None)
    signs = np.sign(vecs[np.argmax(np.abs(vecs), axis=0), np.arange(vecs.shape[1])])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    scores = np.zeros((h * w, k))
    scores[:, :vecs.shape[1]] = x @ vecs
    total = float(np.clip(np.linalg.eigvalsh(cov), 0.0, None).sum()) or 1.0
    explained = np.zeros(k)
    explained[:len(vals)] = vals / total
    return scores.reshape(h, w, k), explained


def summary(maps: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The summary tile of a stage.

    Parameters
    ----------
    maps : ndarray (H, W, C)
    mode : {'mean', 'max', 'pca'}

    Returns
    -------
    values : ndarray (H, W)
        The map drawn on the stage's scale (for ``pca``, the channel mean: it
        stands in the scale's computation and is replaced by ``rgb``).
    rgb : ndarray (H, W, 3) uint8 or None
        ``pca``: components 1, 2, 3 as R, G, B, each stretched over its own
        min … max.
    name : str
        The tile's label: ``mean of 16 maps``, ``max of 16 maps``,
        ``PCA of 16 maps, R, G, B = components 1, 2, 3 (62 %, 21 %, 9 % of the variance)``.
    """
    c = maps.shape[2]
    if mode == "mean":
        return maps.mean(axis=2, dtype=np.float64), None, f"mean of {c} maps"
    if mode == "max":
        return maps.max(axis=2).astype(np.float64), None, f"max of {c} maps"
    if mode != "pca":
        raise ValueError(f"reduce must be one of {MODES}, not {mode!r}")
    scores, explained = principal_components(maps, 3)
    lo, hi = scores.min(axis=(0, 1)), scores.max(axis=(0, 1))
    span = np.where(hi > lo, hi - lo, 1.0)
    rgb = np.round(np.clip((scores - lo) / span, 0.0, 1.0) * 255).astype(np.uint8)
    shares = ", ".join(f"{round(100 * e)} %" for e in explained)
    return maps.mean(axis=2, dtype=np.float64), rgb, (f"PCA of {c} maps, R, G, B = components 1, 2, 3 "
                                                      f"({shares} of the variance)")
