"""cnnviz.pipeline.geometry.project: a map placed exactly on the input's pixel grid (SPEC §8).

References are hand-worked cases and an independent one: the input pixels
that change an output cell when perturbed (its receptive field, found by
running the stack), whose centre must be where the projection puts the cell.
"""

from __future__ import annotations

import numpy as np
import pytest

import cnnviz
from cnnviz.pipeline.geometry import cell_indices, project


def delta_kernel(k: int) -> list[list[float]]:
    a = np.zeros((k, k))
    a[k // 2, k // 2] = 1.0
    return a.tolist()


def test_a_valid_21x21_conv_is_placed_10_pixels_in():
    """A centred delta kernel makes cell (i, j) the input pixel (i + 10, j + 10): the projection is the image
    itself inside a 10-pixel NaN border; a stretch of the 44×44 map over 64×64 would misplace it."""
    img = np.random.default_rng(0).random((64, 64))
    layers = cnnviz.run({"dtype": "float64", "stages": [{"type": "conv", "filters": [delta_kernel(21)]}]}, img)
    p = project(layers[0], 0)
    assert layers[0].output.shape == (44, 44, 1) and p.values.shape == (64, 64)
    np.testing.assert_array_equal(p.values[10:54, 10:54], img[10:54, 10:54])
    inside = np.zeros((64, 64), bool)
    inside[10:54, 10:54] = True
    assert np.isnan(p.values[~inside]).all() and not np.isnan(p.values[inside]).any()
    # what stretching does instead: cell 0 drawn at pixel 0, 10 pixels from where it belongs
    from skimage.transform import resize
    stretched = resize(layers[0].output[:, :, 0], (64, 64), order=0)
    assert np.abs(stretched[10:54, 10:54] - img[10:54, 10:54]).max() > 0.3


@pytest.mark.parametrize("padding, start", [(1, 0.0), ([[0, 1], [0, 1]], 1.0), ([[1, 0], [1, 0]], 0.0)])
def test_stride_2_with_odd_padding(padding, start):
    """3×3 stride 2: cell i is centred on input 2i + 1 − top padding; its 2×2 block is that pixel and the one
    before it (half-open [c − 1, c + 1))."""
    img = np.random.default_rng(1).random((9, 9))
    cfg = {"dtype": "float64", "stages": [{"type": "conv", "filters": [delta_kernel(3)], "stride": 2,
                                           "padding": padding}]}
    layer = cnnviz.run(cfg, img)[0]
    assert layer.stage.start == (start, start) and layer.stage.jump == (2, 2)
    p = project(layer)
    h, w = layer.output.shape[:2]
    for i in range(h):
        for j in range(w):
            cy, cx = int(start) + 2 * i, int(start) + 2 * j
            assert layer.output[i, j, 0] == img[cy, cx]  # the delta samples the centre pixel
            for y in (cy - 1, cy):
                for x in (cx - 1, cx):
                    if 0 <= y < 9 and 0 <= x < 9:
                        assert p.values[y, x] == img[cy, cx], (i, j, y, x)


def test_a_pool_between_two_convs_hand_worked():
    """valid 3×3 conv (start 1, jump 1, field 3) → 2×2 pool (start 1.5, jump 2, field 4) → valid 3×3 conv
    (start 1.5 + 1·2 = 3.5, jump 2, field 4 + 2·2 = 8): cell (i, j) holds pixels 3 + 2i and 4 + 2i."""
    img = np.random.default_rng(2).random((16, 18))
    cfg = {"stages": [{"type": "conv", "filters": [[[1, 2, 1], [0, 1, 0], [1, 1, 1]]]}, {"type": "pool", "size": 2},
                      {"type": "conv", "filters": [[[1, 0, 1], [2, 1, 1], [1, 1, 0]]]}]}
    layers = cnnviz.run(cfg, img)
    ps = layers[2].stage
    assert (ps.receptive_field, ps.jump, ps.start) == ((8, 8), (2, 2), (3.5, 3.5))
    p = project(layers[2])
    m = layers[2].output[:, :, 0]
    assert m.shape == (5, 6)
    for i in range(5):
        for j in range(6):
            block = p.values[3 + 2 * i:5 + 2 * i, 3 + 2 * j:5 + 2 * j]
            assert block.shape == (2, 2) and (block == np.float64(m[i, j])).all()
    assert np.isnan(p.values[:3]).all() and np.isnan(p.values[13:]).all()
    assert np.isnan(p.values[:, :3]).all() and np.isnan(p.values[:, 15:]).all()
    assert p.cell_at(3, 4) == (0, 0) and p.cell_at(12, 14) == (4, 5) and p.cell_at(2, 2) is None


def perturbed_field(cfg: dict, shape: tuple[int, int], stage: int, cell: tuple[int, int]) -> tuple[float, float]:
    """The centre of the input pixels that change output cell ``cell`` of stage ``stage`` (found by running)."""
    img = np.random.default_rng(3).random(shape) + 1.0
    base = cnnviz.run(cfg, img)[stage].output[cell[0], cell[1], 0]
    hit = []
    for y in range(shape[0]):
        for x in range(shape[1]):
            bumped = img.copy()
            bumped[y, x] += 1.0
            if cnnviz.run(cfg, bumped)[stage].output[cell[0], cell[1], 0] != base:
                hit.append((y, x))
    ys, xs = np.array(hit).T
    return (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2


@pytest.mark.parametrize("stages, cell", [
    ([{"type": "conv", "filters": [np.ones((3, 3)).tolist()], "stride": 2, "padding": [[1, 0], [1, 0]]},
      {"type": "pool", "mode": "avg", "size": 2}, {"type": "conv", "filters": [np.ones((5, 5)).tolist()]}],
     (2, 1)),
    ([{"type": "conv", "filters": [np.ones((3, 3)).tolist()], "dilation": 2},
      {"type": "pool", "mode": "avg", "size": 3, "stride": 2, "padding": 1}], (2, 1)),
])
def test_the_projected_centre_is_the_perturbed_fields_centre(stages, cell):
    """An independent reference: bump each input pixel, see which move the cell (positive weights, averages: no
    cancellation), take their centre; project() must put the cell there."""
    cfg = {"dtype": "float64", "stages": stages}
    layer = cnnviz.run(cfg, np.ones((28, 24)))[-1]
    cy, cx = perturbed_field(cfg, (28, 24), len(stages) - 1, cell)
    start, jump = layer.stage.start, layer.stage.jump
    assert (start[0] + cell[0] * jump[0], start[1] + cell[1] * jump[1]) == (cy, cx)
    p = project(layer)
    got = p.cell_at(int(np.floor(cy)), int(np.floor(cx)))
    assert got == cell


def test_cell_indices_and_errors():
    np.testing.assert_array_equal(cell_indices(np.arange(6), 1.5, 2, 2), [-1, 0, 0, 1, 1, -1])
    np.testing.assert_array_equal(cell_indices(np.arange(4), 0.5, 1, 3), [0, 1, 2, -1])  # a 2×2 valid conv
    layers = cnnviz.run({"stages": [{"type": "conv", "filters": [delta_kernel(3)] * 2}]}, np.zeros((8, 8)))
    with pytest.raises(ValueError, match="stage 'conv1' has 2 channels; channel 2 does not exist"):
        project(layers[0], 2)
    assert project(layers[0], -1).channel == 1
    from cnnviz.pipeline.run import Layer
    with pytest.raises(ValueError, match="no stage plan"):
        project(Layer(1, "x", "conv", np.zeros((4, 4, 1)), None, 0.0))


def test_a_dense_stage_covers_the_whole_image():
    layers = cnnviz.run({"stages": [{"type": "dense", "units": 3}]}, np.random.default_rng(0).random((6, 7)))
    p = project(layers[0], 1)
    assert p.values.shape == (6, 7) and (p.values == np.float64(layers[0].output[0, 0, 1])).all()
