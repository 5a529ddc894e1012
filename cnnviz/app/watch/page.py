"""The ``cnnviz watch --serve`` page: one self-contained HTML file (inline CSS and JavaScript, no network fetches).

It polls ``/state`` and, when a new render is there, loads its pictures with a
cache-busting query and swaps them in once they have loaded, together with
``/cells`` (where every tile of the input and of each stage's grid was drawn,
and each stage's receptive field, jump and start; :mod:`~cnnviz.app.watch.cells`).
The current error, if the config is invalid, sits in a banner at the top.

Pointing at a map: hovering a cell of a grid picture maps the mouse position
to the picture's own pixels (the picture may be shown smaller than drawn),
to the tile and to its data cell, exactly as the picture was resampled
(nearest-neighbour: data cell k of n in a box of len pixels covers pixels
ceil(k·len/n) … ceil((k+1)·len/n) − 1; a grid shrunk 1:N shows N × N cells
per data cell).  Cells i0 … i1 of a stage with receptive field rf, jump J and
start s see input rows s + i0·J − (rf−1)/2 … s + i1·J + (rf−1)/2 and stand
for the block s + i·J ± J/2 (SPEC §8; pixel y covers y − ½ … y + ½).  Both are
drawn on the input picture (its own resampling and shrink applied the same
way) and in a panel that follows the pointer, cut at the image's edges (a
cut side is dashed: the field runs on into the padding), with the cell's
value from ``/values/<stage>/<channel>`` (8-bit: within (max − min) / 508).
Clicking a tile opens that map large (as the grid draws it, each of its squares
a whole number of screen pixels; a grid shrunk 1:N can be switched to every
cell), hoverable the same way.

The element ids and ``data-`` attributes the tests read are part of its contract.
The script is :data:`~cnnviz.app.watch.pagescript.PAGE_SCRIPT`; this module holds the markup and the styles.
"""

from __future__ import annotations

from .pagescript import PAGE_SCRIPT

__all__ = ["PAGE_HTML"]

_BEFORE_SCRIPT = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cnnviz watch</title>
<style>
  :root { --ink: #1f1f1f; --soft: #666; --line: #ddd; --bg: #f6f6f4; --err: #b00020;
          --field: #ffd400; --block: #00b4ff; --cut: #ff2d78; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
         background: var(--bg); }
  header { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid var(--line);
           padding: 8px 16px; display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  #source, #hint { color: var(--soft); }
  #status { color: var(--soft); margin-left: auto; font-variant-numeric: tabular-nums; }
  #status.offline { color: var(--err); }
  #error { margin: 0; padding: 12px 16px; background: var(--err); color: #fff; font: 600 15px/1.45 ui-monospace,
           SFMono-Regular, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-word;
           position: sticky; top: 41px; z-index: 1; box-shadow: 0 2px 6px rgba(0,0,0,.25); }
  #error[hidden] { display: none; }
  main { padding: 12px 16px 40px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 0 0 14px;
            padding: 8px 12px 12px; }
  section h2 { font-size: 14px; margin: 0 0 8px; font-weight: 600; }
  .imgs { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
  figure { margin: 0; max-width: 100%; }
  .pic { position: relative; display: inline-block; max-width: 100%; vertical-align: top; }
  .pic img { display: block; max-width: 100%; height: auto; image-rendering: auto; }
  .pic.cells img { cursor: crosshair; }
  svg.ov { position: absolute; left: 0; top: 0; width: 100%; height: 100%; pointer-events: none;
           overflow: hidden; }
  svg.ov .block { fill: rgba(0, 180, 255, .32); stroke: var(--block); stroke-width: 1.5px; }
  svg.ov .halo { fill: none; stroke: rgba(0, 0, 0, .85); stroke-width: 5px; }
  svg.ov .field { fill: none; stroke: var(--field); stroke-width: 2.5px; }
  svg.ov .cut { stroke: var(--cut); stroke-width: 2.5px; stroke-dasharray: 5 4; }
  svg.ov .cell { fill: none; stroke: var(--field); stroke-width: 2px; }
  svg.ov .cell-halo { fill: none; stroke: #000; stroke-width: 4px; }
  svg.ov * { vector-effect: non-scaling-stroke; }
  figcaption { color: var(--soft); font-size: 12px; margin-top: 2px; }
  #empty { color: var(--soft); }
  #probe { position: fixed; bottom: 12px; right: 12px; z-index: 20; width: min(400px, calc(100vw - 24px)); background: #fff;
           border: 1px solid #bbb; border-radius: 8px; box-shadow: 0 4px 18px rgba(0,0,0,.28); padding: 10px 12px;
           pointer-events: none; font-size: 13px; }
  #probe.left { right: auto; left: 12px; }
  #probe[hidden], #zoom[hidden] { display: none; }
  #probe-title { font-weight: 600; margin: 0 0 6px; }
  #probe-view { position: relative; overflow: hidden; margin: 0 auto 6px; background: #eee; }
  #probe-view img { position: absolute; max-width: none; image-rendering: pixelated; }
  #probe-value { font: 600 18px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 2px 0; }
  #probe p { margin: 2px 0; }
  #probe .soft { color: var(--soft); }
  .key { display: inline-block; width: 14px; height: 10px; vertical-align: baseline; margin-right: 3px; }
  .key.f { border: 2px solid var(--field); outline: 1px solid #000; }
  .key.b { background: rgba(0, 180, 255, .45); border: 1px solid var(--block); }
  .key.c { border-top: 2px dashed var(--cut); height: 2px; vertical-align: middle; }
  #zoom { position: fixed; inset: 0; z-index: 10; background: rgba(20, 20, 20, .55); }
  #zoom-box { position: absolute; left: 16px; top: 16px; bottom: 16px; right: 430px; background: #fff;
              border-radius: 8px; padding: 10px 14px; display: flex; flex-direction: column; }
  #zoom-head { display: flex; gap: 12px; align-items: baseline; }
  #zoom-title { font-weight: 600; }
  #zoom-close { font-size: 18px; line-height: 1; border: 1px solid #bbb; background: #fafafa;
                border-radius: 4px; cursor: pointer; padding: 2px 8px; }
  #zoom-scroll { overflow: auto; flex: 1; margin-top: 8px; }
  #zoom-pic { position: relative; display: inline-block; }
  #zoom-canvas { display: block; image-rendering: pixelated; cursor: crosshair; }
  #zoom-note { color: var(--soft); margin: 6px 0 0; font-size: 12px; }
  #zoom-every, #zoom-esc { color: var(--soft); white-space: nowrap; font-size: 12px; }
  #zoom-esc { margin-left: auto; }
  #zoom-every[hidden] { display: none; }
</style>
</head>
<body data-generation="0" data-version="-1" data-cells="0">
<header>
  <h1>cnnviz watch</h1>
  <span id="source"></span>
  <span id="hint" hidden>hover a map cell: its receptive field on the input · click a tile: open it large</span>
  <span id="status">connecting…</span>
</header>
<pre id="error" role="alert" hidden></pre>
<main id="figures"><p id="empty">Waiting for the first render…</p></main>
<aside id="probe" hidden aria-live="polite">
  <p id="probe-title"></p>
  <div id="probe-view"><img id="probe-img" alt=""><svg class="ov" id="probe-ov"></svg></div>
  <p id="probe-value"></p>
  <p id="probe-cell" class="soft"></p>
  <p id="probe-field"></p>
  <p id="probe-block"></p>
  <p id="probe-note" class="soft"></p>
  <p class="soft"><span class="key f"></span>receptive field &nbsp;<span class="key b"></span>the cell's block
    &nbsp;<span class="key c"></span>cut at the image's edge</p>
</aside>
<div id="zoom" hidden role="dialog" aria-label="one map, large">
  <div id="zoom-box">
    <div id="zoom-head"><span id="zoom-title"></span>
      <label id="zoom-every" hidden><input type="checkbox" id="zoom-full"> every cell</label>
      <span id="zoom-esc">Esc closes</span><button id="zoom-close" aria-label="close">×</button></div>
    <div id="zoom-scroll"><div id="zoom-pic"><canvas id="zoom-canvas"></canvas><svg class="ov" id="zoom-ov"></svg></div></div>
    <p id="zoom-note"></p>
  </div>
</div>
<script>
"""

_AFTER_SCRIPT = r"""</script>
</body>
</html>
"""

PAGE_HTML = _BEFORE_SCRIPT + PAGE_SCRIPT + _AFTER_SCRIPT
