"""Pure NumPy: (H, W, C) maps in, (H, W, C) maps out; kernels and weights from presets and seeds.

Nothing here does I/O or knows a config; the stage types of
:mod:`cnnviz.stages` call these functions with validated, plain values.
One job per module:

* :mod:`~cnnviz.ops.conv` — convolution; :mod:`~cnnviz.ops.pool` — pooling;
* :mod:`~cnnviz.ops.pointwise` — activations; :mod:`~cnnviz.ops.norm` — normalisation;
* :mod:`~cnnviz.ops.dense` — dense and softmax;
* :mod:`~cnnviz.ops.kernels` — named presets; :mod:`~cnnviz.ops.random_kernels` — seeded random banks.
"""

from __future__ import annotations

from .conv import conv2d, conv_output_size, conv_padding
from .dense import dense, softmax
from .norm import lrn, minmax, standardize
from .pointwise import absolute, leaky_relu, relu, sigmoid, tanh
from .pool import global_pool, pool2d, pool_output_size

__all__ = [
    "conv_padding",
    "conv_output_size",
    "conv2d",
    "pool_output_size",
    "pool2d",
    "global_pool",
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "absolute",
    "lrn",
    "standardize",
    "minmax",
    "dense",
    "softmax",
]
