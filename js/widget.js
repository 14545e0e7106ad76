// The anywidget entry: wires the modules to the model. `render` builds one view
// (it runs once per display of the widget) and returns its cleanup; `initialize`
// runs once per model and only reports malformed data to the console, so two
// views of one model do not log the same problem twice.

import { createConfused } from "./confused.js";
import { decodeCounts } from "./counts.js";
import { computeFrame } from "./frame.js";
import { createControls } from "./controls.js";
import { keyAction } from "./keyboard.js";
import { computeGeometry, makeMeasure, FONT_SIZE } from "./layout.js";
import { createLegend } from "./legend.js";
import { createMetrics } from "./metrics.js";
import { createPanel, selectedCell } from "./panel.js";
import { marginals } from "./scales.js";
import { cellSeries } from "./series.js";
import { createSlider } from "./slider.js";
import { createSparkline } from "./sparkline.js";
import { createThreshold } from "./threshold.js";
import { tileEpochNotes } from "./tile_notes.js";
import { createTiles } from "./tiles.js";
import { watchTheme } from "./theme.js";
import { createTooltip } from "./tooltip.js";
import { intTrait, listen, setTraits, stringList, tileKinds } from "./traits.js";

const FALLBACK_WIDTH = 640;
const LOG = "[confusion-widget]";
let viewCount = 0;

/** The shape the traits describe: K classes, T tiles (at least one). */
function shape(model) {
	const labels = stringList(model, "labels");
	const titles = stringList(model, "tile_titles");
	return { labels, titles, K: labels.length, T: Math.max(1, titles.length) };
}

/**
 * Decodes `_counts`: {decoded}, {error} (a message for the user), or {} before
 * the first state update (the widget opens its comm before it has labels).
 */
function readCounts(model) {
	const { K, T } = shape(model);
	if (K === 0) return {};
	try {
		return { decoded: decodeCounts(model.get("_counts"), model.get("_window"), K, T) };
	} catch (err) {
		return { error: err.message };
	}
}

function drawOptions(model) {
	const { K, T } = shape(model);
	return {
		K,
		T,
		aggregation: model.get("aggregation") || "count",
		colorScale: model.get("color_scale") || "equal",
		colormap: model.get("colormap") || "blues",
		hideDiagonal: Boolean(model.get("hide_diagonal")),
		kinds: tileKinds(model, T),
	};
}

function element(tag, className, text) {
	const node = document.createElement(tag);
	node.className = className;
	if (text !== undefined) node.textContent = text;
	return node;
}

function mountView(model, el) {
	const id = ++viewCount;
	const startMark = `cw:render-start:${id}`;
	const epochMark = `cw:epoch-change:${id}`;
	performance.mark(startMark);

	const root = element("div", "cw-root");
	root.setAttribute("data-lm-suppress-shortcuts", "");
	const heading = element("div", "cw-title");
	const toolbar = element("div", "cw-toolbar");
	const stage = element("div", "cw-stage");
	const note = element("div", "cw-note");
	note.hidden = true;
	const axes = element("div", "cw-axes", "rows: true class \u00b7 columns: predicted class");

	const state = {
		counts: null, // {decoded} | {error}
		frame: null, // the last frame drawn
		hover: null, // {tile, row, col}
		sparkline: null, // {key, decoded, el}: the hovered cell's sparkline, kept while the pointer stays on it
		width: 0,
		queued: { layout: true, data: true },
		flushPending: false,
		epochPending: false,
		painted: false,
		destroyed: false,
	};

	const tiles = createTiles({ onHover, onSelect, onFocus: drawOverlays });
	const controls = createControls(model);
	const threshold = createThreshold(model);
	const legend = createLegend();
	const slider = createSlider(model, {
		canAdvance: () => state.counts?.decoded?.has(intTrait(model, "epoch")) ?? false,
	});
	const tooltip = createTooltip();
	const panel = createPanel(model);
	const confused = createConfused(model);
	const metrics = createMetrics(model);
	const details = element("div", "cw-details");
	details.append(confused.el, metrics.el);
	toolbar.append(controls.el, threshold.el, legend.el);
	stage.append(tiles.el, note);
	root.append(heading, toolbar, slider.el, stage, axes, details, panel.el, tooltip.el);
	el.append(root);

	function showTitle() {
		heading.textContent = String(model.get("title") ?? "");
		heading.hidden = !heading.textContent;
	}

	function showNote(kind, text) {
		note.hidden = !text;
		note.className = `cw-note${kind ? ` cw-${kind}` : ""}`;
		note.textContent = text;
	}

	function layout() {
		const { labels, titles } = shape(model);
		tiles.setTitles(titles);
		state.width = root.clientWidth || FALLBACK_WIDTH;
		const family = getComputedStyle(root).fontFamily || "system-ui, sans-serif";
		const geom = computeGeometry({
			labels,
			width: tiles.layout(state.width),
			measure: makeMeasure(`${FONT_SIZE}px ${family}`),
		});
		for (const view of tiles.views) view.setGeometry(geom);
	}

	function paint(frame) {
		tiles.views.forEach((view, t) =>
			view.draw({
				values: frame.values[t],
				scale: frame.scales[t],
				epoch: frame.epoch,
				aggregation: frame.aggregation,
				diverging: frame.diverging[t],
			}),
		);
		legend.update(frame.legend, frame.aggregation);
		tiles.setNotes(
			tileEpochNotes({
				tileEpochs: model.get("_tile_epochs"),
				epoch: frame.epoch,
				epochLabels: stringList(model, "epoch_labels"),
				nEpochs: intTrait(model, "n_epochs", 1),
				kinds: tileKinds(model, frame.counts.length),
			}),
		);
		const accuracy = model.get("_accuracy")?.[frame.epoch]?.[0];
		confused.update({ counts: frame.counts[0], K: frame.K, diverging: frame.diverging[0], accuracy });
	}

	/** Applies queued changes (layout, decoding, then one repaint of every tile), never throwing. */
	function flush() {
		state.flushPending = false;
		if (state.destroyed) return;
		try {
			update();
		} catch (err) {
			// Odd data must never leave a blank widget without a word.
			console.error(`${LOG} ${err.message}`, err);
			showNote("error", `Cannot draw the matrix: ${err.message}`);
		}
	}

	function update() {
		const { layout: relayout, data } = state.queued;
		state.queued = {};
		if (relayout) layout();
		if (data) state.counts = readCounts(model);
		const epoch = intTrait(model, "epoch");
		const opts = drawOptions(model);
		const frame = state.counts.decoded ? computeFrame(state.counts.decoded, epoch, opts, state.frame) : null;
		if (frame) {
			paint(frame);
			state.frame = frame;
			showNote("", "");
			measurePaint();
		} else if (relayout && state.frame?.K === opts.K && state.frame.counts.length === tiles.views.length) {
			// Resizing cleared the canvases: put the last matrix back while we wait.
			paint(state.frame);
		}
		stage.classList.toggle("cw-dimmed", !frame);
		if (state.counts.error) showNote("error", `Cannot draw the matrix: ${state.counts.error}`);
		else if (!frame && state.counts.decoded) showNote("loading", `loading epoch ${epoch}\u2026`);
		drawOverlays();
	}

	function measurePaint() {
		if (!state.painted) {
			state.painted = true;
			performance.measure("cw:first-paint", startMark);
			performance.clearMarks(startMark);
		}
		if (state.epochPending) {
			state.epochPending = false;
			performance.measure("cw:epoch-step", epochMark);
			performance.clearMarks(epochMark);
		}
	}

	/** Trait events arrive in bursts (epoch + _counts + _window): repaint once per burst. */
	function schedule(flags = {}) {
		Object.assign(state.queued, flags);
		if (state.flushPending) return;
		state.flushPending = true;
		queueMicrotask(flush);
	}

	function drawOverlays() {
		const selected = selectedCell(model);
		const selectedTile = intTrait(model, "selected_tile");
		tiles.views.forEach((view, t) =>
			view.drawOverlay({
				hover: state.hover,
				selected: t === selectedTile ? selected : null,
				focusCell: t === selectedTile && selected ? selected : { row: 0, col: 0 },
			}),
		);
	}

	/** The hovered cell's values across the window's epochs, rebuilt only when cell or data change. */
	function sparklineFor(tile, cell, frame) {
		const nEpochs = intTrait(model, "n_epochs", 1);
		const decoded = state.counts?.decoded;
		if (nEpochs <= 1 || !decoded) return null;
		const key = [tile, cell.row, cell.col, frame.epoch, frame.aggregation].join(":");
		if (state.sparkline?.key === key && state.sparkline.decoded === decoded) return state.sparkline.el;
		const kind = tileKinds(model, frame.counts.length)[tile];
		const points = cellSeries(decoded, { tile, ...cell, K: frame.K, aggregation: frame.aggregation, kind, nEpochs });
		const el = createSparkline(points, frame.epoch, { signed: kind.diverging });
		state.sparkline = { key, decoded, el };
		return el;
	}

	function onHover(tile, cell, event, label) {
		state.hover = cell ? { tile, ...cell } : null;
		drawOverlays();
		const frame = state.frame;
		const { labels, titles } = shape(model);
		const K = labels.length;
		const box = root.getBoundingClientRect();
		const hotRow = cell ? cell.row : label?.axis === "row" ? label.index : null;
		if (hotRow === null) metrics.setHot();
		else metrics.setHot(labels[hotRow], titles[tile]);
		if (!cell && label && label.index < K) {
			return tooltip.showLabel(label.axis, labels[label.index], event.clientX - box.left, event.clientY - box.top);
		}
		// The last frame may predate new labels or tiles: no tooltip until it is redrawn.
		if (!cell || !frame || frame.K !== K || !frame.counts[tile]) return tooltip.hide();
		frame.marginals[tile] ??= marginals(frame.counts[tile], K, frame.diverging[tile]);
		const sums = frame.marginals[tile];
		tooltip.show(
			{
				title: titles.length > 1 ? titles[tile] : "",
				trueLabel: labels[cell.row],
				predLabel: labels[cell.col],
				count: frame.counts[tile][cell.row * K + cell.col],
				rowSum: sums.rows[cell.row],
				colSum: sums.cols[cell.col],
				diverging: frame.diverging[tile],
				sparkline: sparklineFor(tile, cell, frame),
			},
			event.clientX - box.left,
			event.clientY - box.top,
		);
	}

	function onSelect(tile, cell) {
		setTraits(model, { selected: [cell.row, cell.col], selected_tile: tile });
	}

	function onKey(event) {
		const canvas = event.target.closest?.("canvas.cw-matrix");
		const action = keyAction(event.key, {
			selected: canvas ? selectedCell(model) : null,
			K: canvas ? shape(model).K : 0,
			epoch: intTrait(model, "epoch"),
			nEpochs: intTrait(model, "n_epochs", 1),
		});
		if (!action) return;
		event.preventDefault();
		if (action.type === "epoch") setTraits(model, { epoch: action.epoch });
		else if (action.type === "clear") setTraits(model, { selected: null });
		else {
			onSelect(Number(canvas.dataset.tile), action.cell);
			if (action.refresh) panel.refresh();
		}
	}

	function onEpoch() {
		performance.mark(epochMark);
		state.epochPending = true;
		schedule();
	}

	root.addEventListener("keydown", onKey);
	const unlisten = [
		listen(model, ["change:labels", "change:tile_titles"], () => schedule({ layout: true, data: true })),
		listen(model, ["change:_counts", "change:_window"], () => schedule({ data: true })),
		listen(model, ["change:epoch"], onEpoch),
		listen(
			model,
			[
				"change:aggregation",
				"change:color_scale",
				"change:colormap",
				"change:hide_diagonal",
				"change:_diff_of",
				"change:_tile_epochs",
				"change:epoch_labels",
				"change:n_epochs",
			],
			() => schedule(),
		),
		listen(model, ["change:selected", "change:selected_tile"], drawOverlays),
		listen(model, ["change:title"], showTitle),
	];
	const resize =
		typeof ResizeObserver === "function"
			? new ResizeObserver(() => {
					if (root.clientWidth && root.clientWidth !== state.width) schedule({ layout: true });
				})
			: null;
	resize?.observe(root);
	// A new theme changes the ink that labels are drawn with: relayout (font) and repaint.
	const unwatchTheme = watchTheme(root, () => schedule({ layout: true }));
	showTitle();
	schedule();

	return () => {
		state.destroyed = true;
		resize?.disconnect();
		unwatchTheme();
		for (const off of unlisten) off();
		root.removeEventListener("keydown", onKey);
		for (const part of [tiles, controls, threshold, legend, slider, panel, confused, metrics]) part.destroy();
		root.remove();
	};
}

/** Logs why the counts cannot be drawn, once per model (views show it on screen). */
function initialize({ model }) {
	let queued = false;
	const check = () => {
		queued = false;
		const { error } = readCounts(model);
		if (error) console.error(`${LOG} ${error}`);
	};
	// Shape traits change together: check once they have all arrived.
	const queue = () => {
		if (!queued) queueMicrotask(check);
		queued = true;
	};
	const off = listen(model, ["change:_counts", "change:_window", "change:labels", "change:tile_titles"], queue);
	check();
	return off;
}

export default {
	initialize,
	render({ model, el }) {
		return mountView(model, el);
	},
};
