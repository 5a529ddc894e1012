"""Pictures, manifest and arrays: a run's layers -> files (SPEC §3).

One job per module: :mod:`~cnnviz.rendering.palette` (colours),
:mod:`~cnnviz.rendering.scale` (which maps, which range),
:mod:`~cnnviz.rendering.layout` (where tiles go), :mod:`~cnnviz.rendering.text`
(fonts and ticks), :mod:`~cnnviz.rendering.grid` (a stage's maps),
:mod:`~cnnviz.rendering.overview` (the input and overview pages),
:mod:`~cnnviz.rendering.filters` and :mod:`~cnnviz.rendering.bars` (kernels and
vectors), :mod:`~cnnviz.rendering.manifest` (``manifest.json`` and metadata),
:mod:`~cnnviz.rendering.writer` (a run into a folder: ``render``).

The package is ``rendering``, not ``render``, so that ``cnnviz.render`` stays
the SPEC's function once a submodule is imported.
"""
