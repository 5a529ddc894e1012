"""The short ``text/plain`` forms IPython shows for a run, a layer and a projection (instead of their arrays)."""

from __future__ import annotations

from typing import Any

from ..formatting import short_number, times

__all__ = ["layers_text", "layer_text", "projection_text"]


def layer_line(layer: Any, width: int = 2) -> str:
    """``01 edges (conv) · 298×449×2 float32``."""
    out = layer.output
    return f"{layer.index:0{width}d} {layer.name} ({layer.type}) · {times(*out.shape)} {out.dtype}"


def layers_text(layers: Any) -> str:
    """What a run is: its config and image, then a line per stage.

    >>> layers_text([])
    'cnnviz run: no layers'
    """
    source = getattr(layers, "source", None)
    head = "cnnviz run"
    if source is not None:
        config = source.config
        name = config.name or (config.source if config.source and not config.source.startswith("<") else "")
        head += (f" of {name}" if name else "") + f" on {source.image_name or 'an array'}" \
            + f" (input {times(*source.image.shape)})"
    if not layers:
        return head + ": no layers"
    width = max(2, len(str(max(la.index for la in layers))))
    return "\n".join([f"{head}: {len(layers)} layer{'s' if len(layers) != 1 else ''}"]
                     + ["  " + layer_line(la, width) for la in layers])


def layer_text(layer: Any) -> str:
    """``Layer 01 edges (conv) · 298×449×2 float32 · 1.2 ms``."""
    return f"Layer {layer_line(layer)} · {short_number(layer.seconds * 1e3)} ms"


def projection_text(p: Any) -> str:
    """``Projection of edges map 0 on the input's 300×451 grid · receptive field 3×3, jump 1×1``."""
    h, w = p.values.shape
    return (f"Projection of {p.stage} map {p.channel} ({times(*p.map.shape)}) on the input's {times(h, w)} grid"
            f" · receptive field {times(*p.receptive_field)}, jump {times(*p.jump)}"
            + ("" if p.image is not None else " · no input kept (pass image= to project)"))
