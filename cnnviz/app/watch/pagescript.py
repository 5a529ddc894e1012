"""The script of the ``cnnviz watch --serve`` page (:mod:`~cnnviz.app.watch.page` has its markup and styles).

Plain JavaScript, no library, no network but the page's own server: it polls
``/state``, swaps in each new render's pictures with ``/cells`` (where every
tile was drawn), and points at cells: :func:`cellAt` (mouse -> tile and
cells), :func:`fieldOf` / :func:`blockOf` (cells -> input rows and columns,
SPEC §8) and :func:`inputToPicture` (input -> the input picture's pixels)
are the whole mapping; :func:`probe` draws and states it, with the value
from ``/values`` (8-bit).
"""

from __future__ import annotations

__all__ = ["PAGE_SCRIPT"]

PAGE_SCRIPT = r""""use strict";
let version = -1, generation = 0, busy = false;
let cells = null;      // /cells of the render shown
let zoomed = null;     // {stem, channel, z} of the open large view
let pointer = null;    // the last pointer position over a map: {x, y}
let probeToken = 0;
const valuesCache = new Map();
const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
const NOT_FINITE = 255, STEPS = 254;

const stemOf = (file) => file.replace(/\.[^.]*$/, "");

// ---- geometry ------------------------------------------------------------
// A raster of n data cells drawn nearest-neighbour into len picture pixels:
// data cell k covers picture pixels ceil(k·len/n) … ceil((k+1)·len/n) − 1.
function edge(k, n, len) { return Math.ceil(k * len / n); }
// The data cell a whole picture pixel p shows (p inside the box).
function dataCell(p, origin, len, n) { return Math.floor((p - origin) * n / len); }
// An input edge coordinate u (0 … H; pixel y spans y … y + 1) -> picture coordinate, through an
// input raster that shows the input area-averaged 1:N (rows = ceil(H / N)) in len pixels from origin.
function inputToPicture(u, H, N, rows, origin, len) {
  const d = Math.max(0, Math.min(Math.floor(u / N), rows - 1));
  const t = d + (u - d * N) / Math.min(N, H - d * N);
  const f = Math.floor(t), a = edge(f, rows, len), b = edge(Math.min(f + 1, rows), rows, len);
  return origin + a + (t - f) * (b - a);
}
// Cells i0 … i1 along one axis: receptive field and block as input edge coordinates [from, to).
function fieldOf(g, axis, i0, i1) {
  const rf = g.receptive_field[axis], j = g.jump[axis], s = g.start[axis];
  return [s + i0 * j - (rf - 1) / 2, s + i1 * j + (rf - 1) / 2 + 1];
}
function blockOf(g, axis, i0, i1) {
  const j = g.jump[axis], s = g.start[axis];
  return [s + i0 * j - j / 2 + 0.5, s + i1 * j + j / 2 + 0.5];
}
// A picture pixel position (fractional) -> the tile and the cells i0 … i1, j0 … j1 it shows.
function cellAt(pic, px, py) {
  const P = Math.floor(px), Q = Math.floor(py);
  for (const t of pic.tiles) {
    if (P < t.x || P >= t.x + t.w || Q < t.y || Q >= t.y + t.h) continue;
    const r = dataCell(Q, t.y, t.h, t.rows), c = dataCell(P, t.x, t.w, t.cols);
    const N = pic.shrink, H = pic.shape[0], W = pic.shape[1];
    return {tile: t, r, c, i0: r * N, i1: Math.min(H, (r + 1) * N) - 1,
            j0: c * N, j1: Math.min(W, (c + 1) * N) - 1};
  }
  return null;
}

// ---- values ----------------------------------------------------------------
function values(stage, channel) {
  const gen = cells ? cells.generation : generation, key = gen + ":" + stage + ":" + channel;
  if (!valuesCache.has(key)) {
    const p = fetch("values/" + stage + "/" + channel + "?g=" + gen, {cache: "no-store"})
      .then((r) => { if (!r.ok) throw new Error(r.status); return r.arrayBuffer(); })
      .then((buf) => {
        const dv = new DataView(buf);
        return {rows: dv.getUint32(0, true), cols: dv.getUint32(4, true), lo: dv.getFloat64(8, true),
                hi: dv.getFloat64(16, true), codes: new Uint8Array(buf, 24), bytes: buf.byteLength};
      });
    p.catch(() => valuesCache.delete(key));
    valuesCache.set(key, p);
  }
  return valuesCache.get(key);
}
const decode = (v, q) => q === NOT_FINITE ? NaN : v.lo + q * (v.hi - v.lo) / STEPS;

function fmt(x, err) {
  if (!Number.isFinite(x)) return String(x);
  if (!(err > 0)) return String(+x.toPrecision(6));
  const d = Math.max(0, Math.min(8, Math.ceil(-Math.log10(err))));
  return Math.abs(x) >= 1e6 ? x.toPrecision(4) : x.toFixed(d);
}
const minus = (s) => String(s).replace(/^-/, "−");

// ---- drawing on the overlays ------------------------------------------------
function clear(svg) { while (svg.firstChild) svg.firstChild.remove(); }
function add(svg, tag, cls, attrs) {
  const el = document.createElementNS(NS, tag);
  el.setAttribute("class", cls);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  svg.append(el);
  return el;
}
function box(svg, cls, x0, y0, x1, y1) {
  return add(svg, "rect", cls, {x: x0, y: y0, width: Math.max(0, x1 - x0), height: Math.max(0, y1 - y0)});
}
const clip = (u, n) => Math.max(0, Math.min(n, u));

// Draw the field (fy, fx: [from, to) per axis) and block (by, bx) on every input raster of svg.
function drawField(svg, inp, fy, fx, by, bx) {
  clear(svg);
  const H = inp.shape[0], W = inp.shape[1];
  for (const r of inp.rasters) {
    const X = (u) => inputToPicture(clip(u, W), W, r.shrink, r.cols, r.x, r.w);
    const Y = (u) => inputToPicture(clip(u, H), H, r.shrink, r.rows, r.y, r.h);
    if (clip(by[1], H) > clip(by[0], H) && clip(bx[1], W) > clip(bx[0], W))
      box(svg, "block", X(bx[0]), Y(by[0]), X(bx[1]), Y(by[1]));
    const x0 = X(fx[0]), y0 = Y(fy[0]), x1 = X(fx[1]), y1 = Y(fy[1]);
    box(svg, "halo", x0, y0, x1, y1);
    const f = box(svg, "field", x0, y0, x1, y1);
    f.dataset.u = [fy[0], fx[0], fy[1], fx[1]].join(" ");
    if (fy[0] < 0) add(svg, "line", "cut", {x1: x0, y1: y0, x2: x1, y2: y0});
    if (fy[1] > H) add(svg, "line", "cut", {x1: x0, y1: y1, x2: x1, y2: y1});
    if (fx[0] < 0) add(svg, "line", "cut", {x1: x0, y1: y0, x2: x0, y2: y1});
    if (fx[1] > W) add(svg, "line", "cut", {x1: x1, y1: y0, x2: x1, y2: y1});
  }
}

function rowsText(a, b, word) {
  return a === b ? word + " " + minus(a) : word + "s " + minus(a) + " … " + minus(b);
}
function cutText(f, n, noun, before, after) {
  const out = [], say = (k, where) => k + " " + noun + (k === 1 ? "" : "s") + " " + where;
  if (f[0] < 0) out.push(say(-f[0], before));
  if (f[1] > n) out.push(say(f[1] - n, after));
  return out;
}
const and = (xs) => xs.length < 2 ? xs.join("") : xs.slice(0, -1).join(", ") + " and " + xs[xs.length - 1];

// ---- the probe ---------------------------------------------------------------
function inputOverlays() {
  return [...document.querySelectorAll("#figures .pic.input svg.ov"), $("probe-ov")];
}

function endProbe() {
  $("probe").hidden = true;
  for (const svg of inputOverlays()) clear(svg);
  for (const svg of document.querySelectorAll("#figures .pic.cells svg.ov")) clear(svg);
  clear($("zoom-ov"));
  probeToken++;
}

function placeProbe(clientX) {
  const probe = $("probe");
  probe.classList.toggle("left", !zoomed && clientX > window.innerWidth / 2);
  const inp = cells && cells.input;
  const view = $("probe-view"), img = $("probe-img"), ov = $("probe-ov");
  if (!inp) { view.hidden = true; return; }
  const r = inp.rasters[0], s = Math.min(376 / r.w, 320 / r.h);
  view.hidden = false;
  view.style.width = r.w * s + "px";
  view.style.height = r.h * s + "px";
  img.style.width = inp.width * s + "px";
  img.style.height = inp.height * s + "px";
  img.style.left = -r.x * s + "px";
  img.style.top = -r.y * s + "px";
  ov.setAttribute("viewBox", r.x + " " + r.y + " " + r.w + " " + r.h);
  ov.setAttribute("preserveAspectRatio", "none");
}

// Show cells hit.i0 … i1, hit.j0 … j1 of picture `stem`; `mark` draws the hovered cell where it was hovered.
function probe(stem, hit, clientX, mark) {
  const pic = cells.pictures[stem], inp = cells.input, token = ++probeToken;
  const ch = hit.tile.channel, H = pic.shape[0], W = pic.shape[1];
  const fy = fieldOf(pic, 0, hit.i0, hit.i1), fx = fieldOf(pic, 1, hit.j0, hit.j1);
  const by = blockOf(pic, 0, hit.i0, hit.i1), bx = blockOf(pic, 1, hit.j0, hit.j1);
  const box_ = $("probe");
  box_.hidden = false;
  placeProbe(clientX);
  if (inp) for (const svg of inputOverlays()) drawField(svg, inp, fy, fx, by, bx);
  for (const svg of document.querySelectorAll("#figures .pic.cells svg.ov")) clear(svg);
  clear($("zoom-ov"));
  mark();
  Object.assign(box_.dataset, {stem, stage: pic.stage, channel: ch, i0: hit.i0, i1: hit.i1, j0: hit.j0,
                               j1: hit.j1, field: [fy[0], fx[0], fy[1], fx[1]].join(" "), value: ""});
  $("probe-title").textContent = pic.name + " (" + pic.type + ") · map " + ch;
  const one = hit.i0 === hit.i1 && hit.j0 === hit.j1;
  $("probe-cell").textContent = one ? "cell (" + hit.i0 + ", " + hit.j0 + ") of " + H + " × " + W :
    "cells " + hit.i0 + "…" + hit.i1 + " × " + hit.j0 + "…" + hit.j1 + " of " + H + " × " + W +
    " (one square of the grid, shown at 1:" + pic.shrink + ")";
  const rf = pic.receptive_field;
  const ih = inp ? inp.shape[0] : Infinity, iw = inp ? inp.shape[1] : Infinity;
  $("probe-field").textContent = "receptive field " + rf[0] + "×" + rf[1] + ": input " +
    rowsText(fy[0], fy[1] - 1, "row") + ", " + rowsText(fx[0], fx[1] - 1, "col");
  const cy = pic.start[0] + hit.i0 * pic.jump[0], cx = pic.start[1] + hit.j0 * pic.jump[1];
  $("probe-block").textContent = one ?
    "stands for the " + pic.jump[0] + "×" + pic.jump[1] + " block centred on input (" + minus(cy) + ", " + minus(cx) + ")" :
    "stands for the blocks of these cells, centred from input (" + minus(cy) + ", " + minus(cx) + ")";
  const cut = [...cutText(fy, ih, "row", "above", "below"), ...cutText(fx, iw, "column", "left", "right")];
  $("probe-note").textContent = cut.length ? "The field reaches past the image: " + and(cut) +
    " of it are padding (the box is cut at the image's edge, dashed there)." : "";
  $("probe-value").textContent = "value …";
  values(pic.stage, ch).then((v) => {
    if (token !== probeToken) return;
    let sum = 0, n = 0, bad = 0, lo = Infinity, hi = -Infinity;
    for (let i = hit.i0; i <= hit.i1; i++) for (let j = hit.j0; j <= hit.j1; j++) {
      const x = decode(v, v.codes[i * v.cols + j]);
      if (Number.isFinite(x)) { sum += x; n++; lo = Math.min(lo, x); hi = Math.max(hi, x); } else bad++;
    }
    const err = (v.hi - v.lo) / (2 * STEPS), mean = n ? sum / n : NaN;
    box_.dataset.value = String(mean);
    box_.dataset.err = String(err);
    const pm = err > 0 ? "(8-bit, ± " + minus(+err.toPrecision(1)) + ")" : "(exact: a constant map)";
    let text = one ? (n ? "≈ " + minus(fmt(mean, err)) + " " + pm : "not a number (NaN or ±inf)") :
      "mean ≈ " + minus(fmt(mean, err)) + " " + pm + ", " + minus(fmt(lo, err)) + " … " + minus(fmt(hi, err));
    if (!one && bad) text += ", " + bad + " not finite";
    $("probe-value").textContent = text;
  }, () => { if (token === probeToken) $("probe-value").textContent = "value: re-rendering…"; });
}

function markCell(svg, x0, y0, x1, y1) {
  box(svg, "cell-halo", x0, y0, x1, y1);
  box(svg, "cell", x0, y0, x1, y1);
}

function probeGrid(img, clientX, clientY) {
  const stem = img.dataset.stem, pic = cells && cells.pictures[stem];
  if (!pic) return endProbe();
  const rect = img.getBoundingClientRect();
  const px = (clientX - rect.left) * pic.width / rect.width, py = (clientY - rect.top) * pic.height / rect.height;
  const hit = cellAt(pic, px, py);
  pointer = {x: clientX, y: clientY};
  if (!hit) return endProbe();
  const t = hit.tile, svg = img.parentElement.querySelector("svg.ov");
  probe(stem, hit, clientX, () => markCell(svg, t.x + edge(hit.c, t.cols, t.w), t.y + edge(hit.r, t.rows, t.h),
                                          t.x + edge(hit.c + 1, t.cols, t.w), t.y + edge(hit.r + 1, t.rows, t.h)));
}

function probeZoom(clientX, clientY) {
  if (!zoomed || !cells) return;
  const pic = cells.pictures[zoomed.stem];
  const t = pic && pic.tiles.find((t) => t.channel === zoomed.channel);
  if (!t) return;
  const H = pic.shape[0], W = pic.shape[1], N = zoomed.full ? 1 : pic.shrink;
  const rows = zoomed.full ? H : t.rows, cols = zoomed.full ? W : t.cols;
  const rect = $("zoom-canvas").getBoundingClientRect();
  const r = Math.floor((clientY - rect.top) * rows / rect.height), c = Math.floor((clientX - rect.left) * cols / rect.width);
  pointer = {x: clientX, y: clientY};
  if (r < 0 || c < 0 || r >= rows || c >= cols) return endProbe();
  const hit = {tile: t, i0: r * N, i1: Math.min(H, (r + 1) * N) - 1, j0: c * N, j1: Math.min(W, (c + 1) * N) - 1};
  probe(zoomed.stem, hit, clientX, () => markCell($("zoom-ov"), c, r, c + 1, r + 1));
}

// ---- one map, large -------------------------------------------------------------
// The tile as the grid draws it (its colours), each of its squares a whole number of screen pixels; a grid
// shrunk 1:N can also be opened at every cell ("full"), coloured from the 8-bit values on the map's own range.
async function openZoom(stem, channel, full) {
  const pic = cells && cells.pictures[stem];
  const t = pic && pic.tiles.find((t) => t.channel === channel);
  const img = document.querySelector('#figures img[data-stem="' + stem + '"]');
  if (!t || !img) return closeZoom();
  full = Boolean(full) && pic.shrink > 1;
  const H = pic.shape[0], W = pic.shape[1], rows = full ? H : t.rows, cols = full ? W : t.cols;
  zoomed = {stem, channel, full};
  $("zoom").hidden = false;
  $("zoom-every").hidden = pic.shrink === 1;
  $("zoom-full").checked = full;
  const scroll = $("zoom-scroll").getBoundingClientRect();
  const z = Math.max(1, Math.floor(Math.min(scroll.width / cols, (scroll.height - 4) / rows)));
  const cv = $("zoom-canvas");
  cv.width = cols;
  cv.height = rows;
  cv.style.width = cols * z + "px";
  cv.style.height = rows * z + "px";
  const ov = $("zoom-ov");
  ov.setAttribute("viewBox", "0 0 " + cols + " " + rows);
  ov.setAttribute("preserveAspectRatio", "none");
  clear(ov);
  Object.assign($("zoom").dataset, {stem, channel, z, full: full ? "1" : "0"});
  $("zoom-title").textContent = pic.name + " (" + pic.type + ") · map " + channel + " · " + H + " × " + W +
    " cells" + (full || pic.shrink === 1 ? ", each " : " at 1:" + pic.shrink + ", each square ") + z +
    " screen pixel" + (z === 1 ? "" : "s");
  const ctx = cv.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  if (!full) {  // the tile as drawn: the grid's own colours, one data cell per canvas pixel
    ctx.drawImage(img, t.x, t.y, t.w, t.h, 0, 0, cols, rows);
    $("zoom-note").textContent = pic.shrink === 1 ? "The tile as the grid draws it (its colour scale), every cell." :
      "The tile as the grid draws it: each square is the mean of " + pic.shrink + " × " + pic.shrink + " cells.";
    return;
  }
  ctx.clearRect(0, 0, cols, rows);
  $("zoom-note").textContent = "Every cell, from its 8-bit values, coloured on this map's own min … max " +
    "(the grid's colour scale may differ).";
  const v = await values(pic.stage, channel);
  if (!zoomed || zoomed.stem !== stem || zoomed.channel !== channel || !zoomed.full) return;
  const ramp = (pic.ramp || ["#000000", "#ffffff"]).map((h) => [1, 3, 5].map((k) => parseInt(h.slice(k, k + 2), 16)));
  const im = ctx.createImageData(W, H);
  for (let k = 0; k < W * H; k++) {
    const q = v.codes[k], c = q === NOT_FINITE ? [255, 0, 255] : ramp[Math.round(q * (ramp.length - 1) / STEPS)];
    im.data.set([c[0], c[1], c[2], 255], 4 * k);
  }
  ctx.putImageData(im, 0, 0);
}

function closeZoom() {
  zoomed = null;
  $("zoom").hidden = true;
  endProbe();
}

$("zoom-canvas").addEventListener("mousemove", (e) => probeZoom(e.clientX, e.clientY));
$("zoom-canvas").addEventListener("mouseleave", () => { pointer = null; endProbe(); });
$("zoom-close").addEventListener("click", closeZoom);
$("zoom-full").addEventListener("change", (e) => { if (zoomed) openZoom(zoomed.stem, zoomed.channel, e.target.checked); });
$("zoom").addEventListener("click", (e) => { if (e.target === $("zoom")) closeZoom(); });
document.addEventListener("keydown", (e) => { if (e.key === "Escape" && zoomed) closeZoom(); });

// ---- the figures ---------------------------------------------------------------
function figureFor(sec, img, gen, meta) {
  const fig = document.createElement("figure");
  const wrap = document.createElement("div");
  wrap.className = "pic";
  const el = document.createElement("img");
  el.alt = sec.title + " (" + img.caption + ")";
  el.dataset.file = img.file;
  el.dataset.stem = stemOf(img.file);
  el.src = "files/" + encodeURIComponent(img.file) + "?g=" + gen;
  wrap.append(el);
  const stem = el.dataset.stem;
  const drawn = meta && (meta.pictures[stem] || (meta.input && meta.input.stem === stem ? meta.input : null));
  if (drawn) {
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "ov");
    svg.setAttribute("viewBox", "0 0 " + drawn.width + " " + drawn.height);
    svg.setAttribute("preserveAspectRatio", "none");
    wrap.append(svg);
    if (meta.pictures[stem]) {
      wrap.classList.add("cells");
      el.addEventListener("mousemove", (e) => probeGrid(el, e.clientX, e.clientY));
      el.addEventListener("mouseleave", () => { pointer = null; endProbe(); });
      el.addEventListener("click", (e) => {
        const pic = cells && cells.pictures[stem], rect = el.getBoundingClientRect();
        const hit = pic && cellAt(pic, (e.clientX - rect.left) * pic.width / rect.width,
                                  (e.clientY - rect.top) * pic.height / rect.height);
        if (hit) openZoom(stem, hit.tile.channel);
      });
    } else {
      wrap.classList.add("input");
    }
  }
  fig.append(wrap);
  if (sec.show_title && sec.images.length > 1) {  // pictures without labels: say which is which
    const cap = document.createElement("figcaption");
    cap.textContent = img.caption;
    fig.append(cap);
  }
  return [fig, el];
}

function loaded(el) {
  return new Promise((resolve) => {
    if (el.complete) return resolve();
    el.addEventListener("load", resolve, {once: true});
    el.addEventListener("error", resolve, {once: true});
    setTimeout(resolve, 1500);
  });
}

async function fetchCells(gen) {
  try {
    const r = await fetch("cells?g=" + gen, {cache: "no-store"});
    return r.ok ? await r.json() : null;
  } catch (e) {
    return null;
  }
}

// Build the new figures off-screen and swap them in once their images loaded (no flicker).
// False when a newer render came in meanwhile (the next poll shows that one).
async function showFigures(state) {
  const meta = await fetchCells(state.generation);
  if (meta && meta.generation !== state.generation) return false;
  const main = document.createElement("main");
  main.id = "figures";
  const imgs = [];
  for (const sec of state.sections) {
    const s = document.createElement("section");
    s.id = sec.id;
    s.dataset.title = sec.title;
    s.setAttribute("aria-label", sec.title);
    if (sec.show_title) {  // the pictures do not carry it (labels: false): the page says it, once
      const h = document.createElement("h2");
      h.textContent = sec.title;
      s.append(h);
    }
    const box = document.createElement("div");
    box.className = "imgs";
    for (const img of sec.images) {
      const [fig, el] = figureFor(sec, img, state.generation, meta);
      box.append(fig);
      imgs.push(el);
    }
    s.append(box);
    main.append(s);
  }
  if (!state.sections.length) {
    const p = document.createElement("p");
    p.id = "empty";
    p.textContent = "Nothing rendered yet.";
    main.append(p);
  }
  await Promise.all(imgs.map(loaded));
  $("figures").replaceWith(main);
  cells = meta;
  valuesCache.clear();
  const inp = meta && meta.input;
  if (inp) $("probe-img").src = "files/" + encodeURIComponent(inputFile(state, inp.stem)) + "?g=" + state.generation;
  $("hint").hidden = !(meta && Object.keys(meta.pictures).length);
  document.body.dataset.cells = String(meta ? meta.generation : 0);
  return true;
}

function inputFile(state, stem) {
  for (const sec of state.sections) for (const img of sec.images) if (stemOf(img.file) === stem) return img.file;
  return stem + ".png";
}

// After a re-render: the large view and the probe show the new render where the pointer is.
function refresh() {
  if (zoomed) {
    const {stem, channel} = zoomed;
    const pic = cells && cells.pictures[stem];
    if (pic && pic.tiles.some((t) => t.channel === channel)) openZoom(stem, channel, zoomed.full).then(() => {
      if (pointer) probeZoom(pointer.x, pointer.y);
    });
    else closeZoom();
    return;
  }
  if (!pointer) return endProbe();
  const el = document.elementFromPoint(pointer.x, pointer.y);
  if (el && el.matches("#figures .pic.cells img")) probeGrid(el, pointer.x, pointer.y);
  else endProbe();
}

function showError(lines) {
  const box = $("error");
  if (lines.length) {
    box.textContent = lines.join("\n");
    box.hidden = false;
  } else {
    box.textContent = "";
    box.hidden = true;
  }
}

async function tick() {
  if (busy) return;
  busy = true;
  try {
    const r = await fetch("state", {cache: "no-store"});
    const state = await r.json();
    $("status").classList.remove("offline");
    if (state.version !== version) {
      $("source").textContent = state.config + " on " + state.image + " → " + state.outdir;
      let current = true;
      if (state.generation !== generation) {
        current = await showFigures(state);
        if (current) {
          generation = state.generation;
          document.body.dataset.generation = String(generation);
          refresh();
        }
      }
      if (current) {
        showError(state.error);
        version = state.version;
        document.body.dataset.version = String(version);
        document.title = (state.error.length ? "✗ " : "") + "cnnviz watch";
      }
    }
    $("status").textContent = state.message + " · " + state.updated;
  } catch (e) {
    $("status").textContent = "not connected (is cnnviz watch still running?)";
    $("status").classList.add("offline");
  } finally {
    busy = false;
  }
}

tick();
setInterval(tick, 300);
"""
