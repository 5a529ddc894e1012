"""Use cases: the commands, batch and watch, all through one :mod:`~cnnviz.app.session`.

Nothing here imports click or prints: progress and messages reach the
command line by callback or as return values.
"""
