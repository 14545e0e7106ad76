// Browser side of bench_browser.py. Mounts the real widget bundle on a fake
// anywidget model (the same traits Python sends, see docs/architecture.md) and
// times it with the widget's own User Timing measures plus an end-to-end figure
// that waits for the browser to produce the frame; runs a plotly heatmap of the
// same matrices as the peer. Everything is exposed on `window.bench`. The counts
// travel as Python sends them: one pack (js/wire.js encodePack) in `_counts` holding
// every epoch, read back by the widget's own decoder; the fake model answers no
// messages (every epoch is in `_counts`, so none is asked for).

import widget, { encodePack } from "/widget.js";

const host = document.getElementById("host");
const plot = document.getElementById("plot");

// -- data -----------------------------------------------------------------------------
function mulberry32(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = seed;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/**
 * Realistic counts [E, T, K, K] (flat, C order): `perClass` samples per true class, errors
 * falling from ~70% to ~20% over the epochs (each tile a little different), spread
 * over a fixed ~2% of the off-diagonal cells of each row (the confusable classes)
 * plus rare one-off mistakes anywhere, so every epoch's matrix differs.
 */
function makeCounts(K, E, T = 1, seed = 1) {
	const rnd = mulberry32(seed);
	const perClass = K <= 100 ? 100 : 50;
	const m = Math.max(1, Math.round(0.02 * (K - 1)));
	// Confusable columns and their weights, per row (shared by tiles and epochs).
	const cols = new Int32Array(K * m);
	const cum = new Float64Array(K * m);
	for (let r = 0; r < K; r++) {
		let acc = 0;
		for (let j = 0; j < m; j++) {
			let c;
			do c = Math.floor(rnd() * K);
			while (c === r);
			cols[r * m + j] = c;
			acc += 0.2 + rnd() ** 2;
			cum[r * m + j] = acc;
		}
		for (let j = 0; j < m; j++) cum[r * m + j] /= acc;
	}
	const data = new Int32Array(E * T * K * K);
	for (let e = 0; e < E; e++) {
		for (let t = 0; t < T; t++) {
			const base = (e * T + t) * K * K;
			const errRate = 0.2 + 0.5 * Math.exp(-e / 5) + 0.03 * t;
			for (let r = 0; r < K; r++) {
				const n = perClass;
				const errors = Math.min(n, Math.round(n * errRate * (0.7 + 0.6 * rnd())));
				for (let i = 0; i < errors; i++) {
					let c;
					if (rnd() < 0.03) {
						do c = Math.floor(rnd() * K);
						while (c === r);
					} else {
						const u = rnd();
						let j = 0;
						while (j < m - 1 && cum[r * m + j] < u) j++;
						c = cols[r * m + j];
					}
					data[base + r * K + c]++;
				}
				data[base + r * K + r] = n - errors;
			}
		}
	}
	return data;
}

/** A data set: the `_counts` trait as Python sends it (a pack of every epoch), and the raw tiles. */
function makeDataSet(K, E, T) {
	const data = makeCounts(K, E, T);
	const cells = K * K;
	const tile = (e, t) => data.subarray((e * T + t) * cells, (e * T + t + 1) * cells);
	const entries = [];
	for (let e = 0; e < E; e++) for (let t = 0; t < T; t++) entries.push({ epoch: e, tile: t, values: tile(e, t) });
	return { counts: encodePack(entries, { K, T, revision: 0 }), tiles: { getTile: tile } };
}

/**
 * A pack of sparse blocks, byte for byte as _pack.py writes one (uint32 position
 * gaps, uint16 values): for K = 10,000, where a dense K×K tile (400 MB) must never
 * exist. tiles = [{epoch, tile, positions (sorted flat indices), values}].
 */
function encodeSparsePack(tiles, { K, T = 1, revision = 0 }) {
	const blocks = [];
	let size = 0;
	const align = (n) => Math.ceil(n / 8) * 8;
	for (const { epoch, tile, positions } of tiles) {
		const nnz = positions.length;
		const pos = { dtype: "uint32", offset: size };
		size += align(nnz * 4);
		const val = { dtype: "uint16", offset: size };
		size += align(nnz * 2);
		blocks.push({ epoch, tile, rows: [0, K], enc: "sparse", nnz, pos, val });
	}
	const header = new TextEncoder().encode(JSON.stringify({ v: 1, K, T, revision, blocks }));
	const start = align(4 + header.length);
	const buffer = new ArrayBuffer(start + size);
	const view = new DataView(buffer);
	view.setUint32(0, header.length, true);
	new Uint8Array(buffer, 4, header.length).set(header);
	tiles.forEach(({ positions, values }, i) => {
		const gaps = new Uint32Array(buffer, start + blocks[i].pos.offset, positions.length);
		for (let j = 0; j < positions.length; j++) gaps[j] = j === 0 ? positions[0] : positions[j] - positions[j - 1];
		new Uint16Array(buffer, start + blocks[i].val.offset, values.length).set(values);
	});
	return view;
}

/**
 * K classes (10,000) × E epochs with ~`fill` of the cells non-zero: the diagonal
 * plus errors on a few confusable columns per row, never a dense tile.
 */
function makeSparseDataSet(K, E, fill = 0.0005, seed = 3) {
	const rnd = mulberry32(seed);
	const errorsPerRow = Math.max(1, Math.round(fill * K * K) / K - 1);
	const entries = [];
	const accuracy = [];
	let offFill = 0;
	for (let e = 0; e < E; e++) {
		const cells = new Map();
		let diag = 0;
		let all = 0;
		for (let r = 0; r < K; r++) {
			const d = 20 + Math.floor(rnd() * 10) + e;
			cells.set(r * K + r, d);
			diag += d;
			all += d;
			const n = Math.floor(errorsPerRow) + (rnd() < errorsPerRow % 1 ? 1 : 0);
			for (let i = 0; i < n; i++) {
				let c;
				do c = (r + 1 + Math.floor(rnd() ** 3 * (K - 1))) % K;
				while (c === r);
				const v = 1 + Math.floor(rnd() * (12 - e));
				cells.set(r * K + c, (cells.get(r * K + c) ?? 0) + v);
				all += v;
			}
		}
		const positions = Float64Array.from(cells.keys()).sort();
		const values = Uint16Array.from(positions, (p) => cells.get(p));
		entries.push({ epoch: e, tile: 0, positions, values });
		accuracy.push([diag / all]);
		offFill += (cells.size - K) / (K * (K - 1));
	}
	return { counts: encodeSparsePack(entries, { K, T: 1 }), accuracy, fill: offFill / E, sparse: true };
}

/** Share of off-diagonal cells that are non-zero in one tile (K × K counts). */
function offDiagonalFill(tile, K) {
	let nz = 0;
	for (let r = 0; r < K; r++) for (let c = 0; c < K; c++) if (r !== c && tile[r * K + c] !== 0) nz++;
	return nz / (K * (K - 1));
}

const fills = new WeakMap();
/** offDiagonalFill of tile 0 averaged over the epochs (computed once per data set). */
function meanFill(set, K, E) {
	if (set.sparse) return set.fill;
	if (!fills.has(set)) {
		let sum = 0;
		for (let e = 0; e < E; e++) sum += offDiagonalFill(set.tiles.getTile(e, 0), K);
		fills.set(set, sum / E);
	}
	return fills.get(set);
}

// -- a fake anywidget model ------------------------------------------------------------
function fakeModel(attrs) {
	const handlers = new Map();
	const model = {
		// Nothing answers messages here: say so, so the widget does not ping for a kernel.
		comm_live: false,
		sent: [],
		get: (k) => attrs[k],
		set(k, v) {
			const same = attrs[k] === v || JSON.stringify(attrs[k]) === JSON.stringify(v);
			attrs[k] = v;
			if (!same) model.emit(`change:${k}`);
		},
		on(e, f) {
			if (!handlers.has(e)) handlers.set(e, new Set());
			handlers.get(e).add(f);
		},
		off(e, f) {
			handlers.get(e)?.delete(f);
		},
		save_changes() {},
		send(msg) {
			model.sent.push(msg);
		},
		emit(e, ...a) {
			for (const f of [...(handlers.get(e) ?? [])]) f(...a);
		},
	};
	return model;
}

function traits(K, E, T, set) {
	const labels = Array.from({ length: K }, (_, i) => `class ${i}`);
	return {
		labels,
		tile_titles: T > 1 ? Array.from({ length: T }, (_, i) => `run ${String.fromCharCode(65 + i)}`) : [""],
		epoch_labels: Array.from({ length: E }, (_, e) => `epoch ${e}`),
		n_epochs: E,
		epoch: 0,
		aggregation: "count",
		color_scale: "equal",
		colormap: "blues",
		hide_diagonal: false,
		selected: null,
		selected_tile: 0,
		threshold: null,
		page_size: 25,
		title: "",
		_counts: set.counts,
		_revision: 0,
		_accuracy:
			set.accuracy ??
			Array.from({ length: E }, (_, e) =>
				Array.from({ length: T }, (_, t) => {
					const tile = set.tiles.getTile(e, t);
					let diag = 0;
					let all = 0;
					for (let i = 0; i < K * K; i++) all += tile[i];
					for (let r = 0; r < K; r++) diag += tile[r * K + r];
					return all ? diag / all : null;
				}),
			),
		_diff_of: Array.from({ length: T }, () => null),
		_tile_epochs: Array.from({ length: E }, (_, e) => Array.from({ length: T }, () => e)),
		_has_samples: false,
		_metrics: [],
	};
}

// -- frames ---------------------------------------------------------------------------
/** Resolves after the next frame: {raf: time of the rAF callback, frame: after that frame's work}. */
function nextFrame() {
	return new Promise((resolve) => {
		requestAnimationFrame(() => {
			const raf = performance.now();
			const ch = new MessageChannel();
			ch.port1.onmessage = () => resolve({ raf, frame: performance.now() });
			ch.port2.postMessage(0);
		});
	});
}

/** A random pause of 0–1 frame, so that a change lands at a random phase of the
 * display's frame clock (as user input does) instead of just after a frame. */
const jitter = () => new Promise((r) => setTimeout(r, Math.random() * 16.7));

const lastMeasure = (name) => performance.getEntriesByName(name, "measure").at(-1)?.duration ?? null;
const countMeasures = (name) => performance.getEntriesByName(name, "measure").length;
const canvases = () => [...host.querySelectorAll("canvas.cw-matrix")];

/** Opaque pixels and a cheap hash of a canvas (forces its rasterisation: never inside a timing). */
function ink(canvas) {
	const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
	let opaque = 0;
	let hash = 0;
	const colours = new Set();
	for (let i = 0; i < d.length; i += 4) {
		if (d[i + 3] === 0) continue;
		opaque++;
		hash = (Math.imul(hash, 31) + ((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]) + i) | 0;
		if (colours.size < 64) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
	}
	return { width: canvas.width, height: canvas.height, opaque, colours: colours.size, hash };
}

// -- the widget -------------------------------------------------------------------------
let current = null; // {model, cleanup, offInit, set, K, E, T}

function unmount() {
	if (!current) return;
	current.cleanup?.();
	current.offInit?.();
	host.replaceChildren();
	current = null;
}

/** Generate the data once per (K, E, T); mounting then reuses it. */
const dataCache = new Map();
function dataFor(K, E, T, sparse = false) {
	const key = `${K}/${E}/${T}/${sparse}`;
	if (!dataCache.has(key)) {
		dataCache.clear(); // one data set at a time: K = 1000 × 20 epochs is 80 MB
		dataCache.set(key, sparse ? makeSparseDataSet(K, E) : makeDataSet(K, E, T));
	}
	return dataCache.get(key);
}

/**
 * Mounts a fresh view on a fresh model (as a notebook output does) and times it:
 * cw:first-paint (the widget's own measure) and render() → the frame after it.
 */
async function mount({ K, E, T = 1, sparse = false }) {
	unmount();
	await nextFrame();
	const set = dataFor(K, E, T, sparse);
	await jitter();
	const model = fakeModel(traits(K, E, T, set));
	const offInit = widget.initialize({ model });
	const before = countMeasures("cw:first-paint");
	const t0 = performance.now();
	const cleanup = widget.render({ model, el: host });
	const { raf, frame } = await nextFrame();
	current = { model, cleanup, offInit, set, K, E, T };
	if (countMeasures("cw:first-paint") !== before + 1) throw new Error("no cw:first-paint measure");
	const cs = canvases();
	if (cs.length !== T) throw new Error(`expected ${T} canvases, found ${cs.length}`);
	return {
		firstPaint: lastMeasure("cw:first-paint"),
		toRaf: raf - t0,
		toFrame: frame - t0,
		epochs: cs.map((c) => c.dataset.epoch),
		offDiagonalFill: meanFill(set, K, E),
	};
}

/** One epoch change through the model (as a Python-side or slider change arrives) or through the slider's input. */
async function step(epoch, via) {
	await jitter();
	const before = countMeasures("cw:epoch-step");
	const t0 = performance.now();
	if (via === "slider") {
		const input = host.querySelector("input.cw-epoch-slider");
		input.value = String(epoch);
		input.dispatchEvent(new Event("input", { bubbles: true }));
	} else {
		current.model.set("epoch", epoch);
	}
	const { raf, frame } = await nextFrame();
	if (countMeasures("cw:epoch-step") !== before + 1) throw new Error(`no cw:epoch-step measure for epoch ${epoch}`);
	const bad = canvases().filter((c) => c.dataset.epoch !== String(epoch));
	if (bad.length) throw new Error(`canvas still shows epoch ${bad[0].dataset.epoch}, expected ${epoch}`);
	return { step: lastMeasure("cw:epoch-step"), toRaf: raf - t0, toFrame: frame - t0 };
}

/** `passes` sweeps through every epoch (0 → E-1, starting from the shown one). */
async function sweep(passes, via = "model") {
	const out = { step: [], toRaf: [], toFrame: [] };
	const E = current.E;
	let epoch = Number(current.model.get("epoch"));
	for (let p = 0; p < passes; p++) {
		for (let i = 0; i < E; i++) {
			epoch = (epoch + 1) % E;
			const res = await step(epoch, via);
			for (const k of Object.keys(out)) out[k].push(res[k]);
		}
	}
	return out;
}

/** Real pixels: every canvas is painted, and two epochs look different. */
async function verify() {
	const cs = canvases();
	const a = cs.map(ink);
	const E = current.E;
	const e0 = Number(current.model.get("epoch"));
	await step((e0 + Math.floor(E / 2)) % E, "model");
	const b = cs.map(ink);
	await step(e0, "model");
	return {
		canvases: a.map((x, i) => ({ ...x, hashOtherEpoch: b[i].hash })),
	};
}

// -- overview + detail: zoom, pan, search ---------------------------------------------
const geometryOf = (c) => ({ x0: +c.dataset.x0, y0: +c.dataset.y0, cell: +c.dataset.cellW, rows: +c.dataset.rows });

/** Dispatches `fire()` and times it: the JS work (synchronous) and to the end of the next frame. */
async function timed(fire) {
	await jitter();
	const t0 = performance.now();
	fire();
	const js = performance.now() - t0;
	const { frame } = await nextFrame();
	return { js, toFrame: frame - t0 };
}

/**
 * Zoom and pan on the mounted widget as a user does: `zooms` wheel steps in about
 * random points of the matrix (each ×1.6), then `pans` pointer drags of 40 px, then
 * the fit button. Each step is timed ({js, toFrame}) and must change the geometry.
 */
async function zoomPan({ zooms = 6, pans = 12 }) {
	const canvas = canvases()[0];
	const rnd = mulberry32(7);
	const fit = geometryOf(canvas);
	const side = fit.cell * fit.rows;
	const rect = () => canvas.getBoundingClientRect();
	const out = { zoom: [], zoomFrame: [], pan: [], panFrame: [] };
	for (let i = 0; i < zooms; i++) {
		const before = geometryOf(canvas);
		const x = rect().left + fit.x0 + side * (0.3 + 0.4 * rnd());
		const y = rect().top + fit.y0 + side * (0.3 + 0.4 * rnd());
		const t = await timed(() =>
			canvas.dispatchEvent(
				new WheelEvent("wheel", { deltaY: -Math.log(1.6) / 0.002, clientX: x, clientY: y, bubbles: true, cancelable: true }),
			),
		);
		if (geometryOf(canvas).cell === before.cell) throw new Error("the wheel did not zoom");
		out.zoom.push(t.js);
		out.zoomFrame.push(t.toFrame);
	}
	const zoomed = geometryOf(canvas);
	for (let i = 0; i < pans; i++) {
		const before = geometryOf(canvas);
		const x = rect().left + fit.x0 + side / 2;
		const y = rect().top + fit.y0 + side / 2;
		const dx = (i % 4 < 2 ? 1 : -1) * 40;
		const ev = (type, px, py) =>
			new PointerEvent(type, { pointerId: 1, pointerType: "mouse", button: 0, buttons: 1, clientX: px, clientY: py, bubbles: true });
		canvas.dispatchEvent(ev("pointerdown", x, y));
		const t = await timed(() => canvas.dispatchEvent(ev("pointermove", x + dx, y + dx / 2)));
		canvas.dispatchEvent(ev("pointerup", x + dx, y + dx / 2));
		canvas.dispatchEvent(new MouseEvent("click", { clientX: x + dx, clientY: y + dx / 2, bubbles: true }));
		if (geometryOf(canvas).x0 === before.x0) throw new Error("the drag did not pan");
		out.pan.push(t.js);
		out.panFrame.push(t.toFrame);
	}
	host.querySelector("button.cw-zoom-reset").click();
	await nextFrame();
	const back = geometryOf(canvas);
	if (back.cell !== fit.cell || back.x0 !== fit.x0) throw new Error("fit did not restore the view");
	return { ...out, fitCell: fit.cell, zoomedCell: zoomed.cell, canvasWidth: canvas.getBoundingClientRect().width };
}

/** Search → zoomed view for each of `names`: typing, then Enter; the class's diagonal cell must end at the centre. */
async function search({ names }) {
	const canvas = canvases()[0];
	const input = host.querySelector(".cw-toolbar input[type=search]");
	const fit = geometryOf(canvas);
	const cx = fit.x0 + (fit.cell * fit.rows) / 2;
	const cy = fit.y0 + (fit.cell * fit.rows) / 2;
	const labels = current.model.get("labels");
	const out = { js: [], toFrame: [] };
	for (const name of names) {
		const index = labels.indexOf(name);
		const t = await timed(() => {
			input.value = name;
			input.dispatchEvent(new Event("input", { bubbles: true }));
			input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
		});
		const g = geometryOf(canvas);
		const at = [Math.floor((cy - g.y0) / g.cell), Math.floor((cx - g.x0) / g.cell)];
		if (at[0] !== index || at[1] !== index) throw new Error(`search ${name}: the centre shows ${at}, not ${index}`);
		out.js.push(t.js);
		out.toFrame.push(t.toFrame);
		host.querySelector("button.cw-zoom-reset").click();
		await nextFrame();
	}
	return out;
}

// -- the peer: plotly -----------------------------------------------------------------
function loadPlotly() {
	if (window.Plotly) return Promise.resolve();
	return new Promise((resolve, reject) => {
		const s = document.createElement("script");
		s.src = "/plotly.min.js";
		s.onload = resolve;
		s.onerror = () => reject(new Error("could not load plotly"));
		document.head.append(s);
	});
}

/** Nested arrays, as a plotly heatmap (FiftyOne's confusion matrix) gets them. */
function zOf(set, K, epoch) {
	const tile = set.tiles.getTile(epoch, 0);
	const z = new Array(K);
	for (let r = 0; r < K; r++) z[r] = Array.from(tile.subarray(r * K, (r + 1) * K));
	return z;
}

function plotlyFigure(K, z) {
	const labels = Array.from({ length: K }, (_, i) => `class ${i}`);
	return {
		data: [{ type: "heatmap", z, x: labels, y: labels, colorscale: "Blues", reversescale: true }],
		layout: { width: 900, height: 900, yaxis: { autorange: "reversed" }, margin: { l: 80, t: 20, r: 20, b: 80 } },
		config: { responsive: false },
	};
}

/** Plotly.newPlot until rendered (its promise, then a frame), then Plotly.react per epoch. */
async function plotlyRun({ K, E, mounts = 3, steps = 8 }) {
	await loadPlotly();
	unmount();
	const set = dataFor(K, E, 1);
	const first = [];
	for (let i = 0; i < mounts; i++) {
		window.Plotly.purge(plot);
		plot.replaceChildren();
		await nextFrame();
		const fig = plotlyFigure(K, zOf(set, K, 0));
		await jitter();
		const t0 = performance.now();
		await window.Plotly.newPlot(plot, fig.data, fig.layout, fig.config);
		const { frame } = await nextFrame();
		first.push(frame - t0);
	}
	const shot = plot.querySelector("image, canvas");
	if (!shot) throw new Error("plotly drew no heatmap image");
	const stepTimes = [];
	for (let i = 1; i <= steps; i++) {
		const fig = plotlyFigure(K, zOf(set, K, i % E)); // building z is not timed
		await jitter();
		const t0 = performance.now();
		await window.Plotly.react(plot, fig.data, fig.layout, fig.config);
		const { frame } = await nextFrame();
		stepTimes.push(frame - t0);
	}
	window.Plotly.purge(plot);
	plot.replaceChildren();
	return { firstPaint: first, step: stepTimes };
}

window.bench = { mount, sweep, verify, unmount, plotlyRun, zoomPan, search, ready: true };
