// The anywidget entry: wires the modules to the model. `initialize` runs once per
// model and owns what its views share: the request channel to Python (one
// `msg:custom` listener however many views), the kernel watch, the epoch store and
// its fetcher (so every epoch crosses the wire once, whatever the number of
// views) and the console report of malformed data (so two views do not log the
// same problem twice). `render` builds one view (once per display of the widget);
// everything it sets up ends with the view's AbortController, which its cleanup
// aborts.

import { createConfused } from "./confused.js";
import { createControls } from "./controls.js";
import { element } from "./dom.js";
import { createEpochStore } from "./epochs.js";
import { createExportControls } from "./export_controls.js";
import { createFetcher } from "./fetcher.js";
import { computeFrame } from "./frame.js";
import { watchKernel } from "./kernel.js";
import { keyAction } from "./keyboard.js";
import { computeGeometry, FONT_SIZE, makeMeasure } from "./layout.js";
import { createLegend } from "./legend.js";
import { onAbort } from "./lifetime.js";
import { inkOf } from "./matrix_view.js";
import { createMetrics } from "./metrics.js";
import { createOrderControl } from "./order_control.js";
import { createPanel, selectedCell } from "./panel.js";
import { createRequester } from "./requests.js";
import { createSearch } from "./search.js";
import { cellSeries } from "./series.js";
import { createSlider } from "./slider.js";
import { createSparkline } from "./sparkline.js";
import { sums as lineSums, lookup } from "./sparse.js";
import { watchTheme } from "./theme.js";
import { coverageNote, createAbstainToggle, createThreshold } from "./threshold.js";
import { tileEpochNotes } from "./tile_notes.js";
import { createTiles } from "./tiles.js";
import { createTooltip } from "./tooltip.js";
import { intTrait, listen, setTraits, stringList, tileKinds } from "./traits.js";

const FALLBACK_WIDTH = 640;
const LOG = "[confusion-widget]";
/** A hovered cell's sparkline asks for the epochs it lacks while they come to about this many bytes. */
const SPARKLINE_BYTES = 32 * 2 ** 20;
let viewCount = 0;
/** model → what its views share ({requester, kernel, store, fetcher}), from `initialize` until its cleanup. */
const models = new WeakMap();

/** The shape the traits describe: K classes, T tiles (at least one). */
function shape(model) {
	const labels = stringList(model, "labels");
	const titles = stringList(model, "tile_titles");
	return { labels, titles, K: labels.length, T: Math.max(1, titles.length) };
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

function mountView(model, el, shared, signal) {
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

	const { store, fetcher, kernel, requester } = shared;
	const state = {
		frame: null, // the last frame drawn
		hover: null, // {tile, row, col}
		pointer: null, // the last onHover arguments, to refresh the tooltip when epochs arrive
		sparkline: null, // {key, el}: the hovered cell's sparkline, kept while the pointer stays on it
		width: 0,
		queued: { layout: true },
		flushPending: false,
		epochPending: false,
		painted: false,
	};

	const tiles = createTiles({ onHover, onSelect, onFocus: drawOverlays }, { signal, model });
	const search = createSearch(model, { signal, onChoose: (index) => tiles.focusClass(index) });
	const controls = createControls(model, { signal });
	const threshold = createThreshold(model, "threshold", { signal });
	const scoreThreshold = createThreshold(model, "score_threshold", { signal, label: "score" });
	const iouThreshold = createThreshold(model, "iou_threshold", { signal, label: "IoU", min: 0.01 });
	const abstain = createThreshold(model, "confidence_threshold", {
		signal,
		label: "abstain below",
		note: () => coverageNote(model),
		noteEvents: ["change:_coverage", "change:epoch"],
	});
	const legend = createLegend();
	const slider = createSlider(model, {
		signal,
		canAdvance: () => store.has(intTrait(model, "epoch")),
	});
	const tooltip = createTooltip();
	const panel = createPanel(model, { requester, kernel, signal });
	const exporter = createExportControls({ snapshot, onError: (text) => showNote("error", text), signal });
	const confused = createConfused(model, { signal, onPick: (row, col) => tiles.reveal(row, col) });
	const metrics = createMetrics(model, { signal, kernel });
	const details = element("div", "cw-details");
	details.append(confused.el, metrics.el);
	const abstainToggle = createAbstainToggle(model, { signal });
	toolbar.append(controls.el, threshold.el, scoreThreshold.el, iouThreshold.el, abstainToggle.el, abstain.el, legend.el, exporter.el);
	toolbar.append(createOrderControl(model, { signal }).el, search.el);
	stage.append(tiles.el, note);
	root.append(heading, toolbar, slider.el, stage, axes, details, panel.el, tooltip.el);
	el.append(root);
	onAbort(signal, () => root.remove());

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
		tiles.setGeometry(geom);
	}

	function paint(frame) {
		tiles.views.forEach((view, t) => {
			view.draw({
				sparse: frame.sparse[t],
				scale: frame.scales[t],
				epoch: frame.epoch,
				aggregation: frame.aggregation,
				diverging: frame.diverging[t],
			});
		});
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
		confused.update({ sparse: frame.counts[0], K: frame.K, diverging: frame.diverging[0], accuracy });
	}

	/** Applies queued changes (layout, decoding, then one repaint of every tile), never throwing. */
	function flush() {
		state.flushPending = false;
		if (signal.aborted) return;
		try {
			update();
		} catch (err) {
			// Odd data must never leave a blank widget without a word.
			console.error(`${LOG} ${err.message}`, err);
			showNote("error", `Cannot draw the matrix: ${err.message}`);
		}
	}

	function update() {
		const { layout: relayout } = state.queued;
		state.queued = {};
		if (relayout) layout();
		fetcher.sync();
		const epoch = intTrait(model, "epoch");
		const opts = drawOptions(model);
		const frame = opts.K > 0 ? computeFrame(store, epoch, opts, state.frame) : null;
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
		exporter.setEnabled(Boolean(frame));
		if (!frame && opts.K > 0) {
			fetcher.need([epoch]);
			showNote(...missingNote(epoch));
		}
		drawOverlays();
	}

	/** Why `epoch` is not drawn: [note kind, text]. */
	function missingNote(epoch) {
		if (fetcher.traitError) return ["error", `Cannot draw the matrix: ${fetcher.traitError}`];
		if (kernel.state === "none") return ["offline", `epoch ${epoch}: this epoch needs a running kernel`];
		const { error } = fetcher.status(epoch);
		if (error) return ["error", `Could not load epoch ${epoch}: ${error}`];
		return ["loading", `loading epoch ${epoch}\u2026`];
	}

	function epochLabel(epoch) {
		return stringList(model, "epoch_labels")[epoch] || `epoch ${epoch}`;
	}

	/** What the export buttons save: the frame on screen and how it is laid out. */
	function snapshot() {
		const geom = tiles.views[0]?.geometry;
		const frame = state.frame;
		if (!frame || !geom || frame.K !== geom.rows || frame.sparse.length !== tiles.views.length) return null;
		const { labels, titles } = shape(model);
		const style = getComputedStyle(root);
		return {
			epoch: frame.epoch,
			frame,
			geom,
			labels,
			titles,
			headings: tiles.headings,
			// The image says which epoch it shows: "my run · epoch 3".
			title: [heading.hidden ? "" : heading.textContent, slider.el.hidden ? "" : epochLabel(frame.epoch)].filter(Boolean).join(" \u00b7 "),
			columns: tiles.columns,
			background: style.backgroundColor,
			...inkOf(root),
		};
	}

	/** Epochs arrived or failed (a Set), or anything may have changed (null). */
	function onEpochs(epochs) {
		const epoch = intTrait(model, "epoch");
		if (!epochs || state.frame?.epoch !== epoch || epochs.has(epoch)) schedule();
		if (state.pointer && !tooltip.el.hidden) onHover(...state.pointer);
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

	/** Trait events arrive in bursts (epoch + _counts + _revision): repaint once per burst. */
	function schedule(flags = {}) {
		Object.assign(state.queued, flags);
		if (state.flushPending) return;
		state.flushPending = true;
		queueMicrotask(flush);
	}

	function drawOverlays() {
		const selected = selectedCell(model);
		const selectedTile = intTrait(model, "selected_tile");
		tiles.views.forEach((view, t) => {
			view.drawOverlay({
				hover: state.hover,
				selected: t === selectedTile ? selected : null,
				focusCell: t === selectedTile && selected ? selected : { row: 0, col: 0 },
			});
		});
	}

	/** Asks for the epochs a sparkline lacks, while they are likely to fit SPARKLINE_BYTES. */
	function needSeries(nEpochs) {
		const held = store.epochs();
		const missing = Array.from({ length: nEpochs }, (_, e) => e).filter((e) => !store.has(e));
		const perEpoch = held.length ? store.bytes / held.length : Infinity;
		if (missing.length && perEpoch * missing.length <= SPARKLINE_BYTES) fetcher.need(missing);
	}

	/** The hovered cell's values across the held epochs, rebuilt only when cell or data change. */
	function sparklineFor(tile, cell, frame) {
		const nEpochs = intTrait(model, "n_epochs", 1);
		if (nEpochs <= 1) return null;
		needSeries(nEpochs);
		const key = [tile, cell.row, cell.col, frame.epoch, frame.aggregation, store.version].join(":");
		if (state.sparkline?.key === key) return state.sparkline.el;
		const kind = tileKinds(model, frame.counts.length)[tile];
		const points = cellSeries(store, { tile, ...cell, K: frame.K, aggregation: frame.aggregation, kind, nEpochs });
		const el = createSparkline(points, frame.epoch, { signed: kind.diverging });
		state.sparkline = { key, el };
		return el;
	}

	function onHover(tile, cell, event, label) {
		state.hover = cell ? { tile, ...cell } : null;
		state.pointer = cell || label ? [tile, cell, event, label] : null;
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
		frame.marginals[tile] ??= lineSums(frame.counts[tile], frame.diverging[tile]);
		const sums = frame.marginals[tile];
		tooltip.show(
			{
				title: titles.length > 1 ? titles[tile] : "",
				trueLabel: labels[cell.row],
				predLabel: labels[cell.col],
				count: lookup(frame.counts[tile], cell.row, cell.col),
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
		// Arrows move in drawn order (display_order): keyAction sees drawn positions.
		const view = canvas ? tiles.views[Number(canvas.dataset.tile)] : null;
		const action = keyAction(event.key, {
			selected: view ? view.toDrawn(selectedCell(model)) : null,
			K: canvas ? shape(model).K : 0,
			epoch: intTrait(model, "epoch"),
			nEpochs: intTrait(model, "n_epochs", 1),
		});
		if (!action) return;
		event.preventDefault();
		if (action.type === "epoch") setTraits(model, { epoch: action.epoch });
		else if (action.type === "clear") setTraits(model, { selected: null });
		else if (action.type === "zoom") tiles.zoomBy(action.factor);
		else {
			const cell = view ? view.toClass(action.cell) : action.cell;
			onSelect(Number(canvas.dataset.tile), cell);
			tiles.reveal(cell.row, cell.col);
			if (action.refresh) panel.refresh();
		}
	}

	function onEpoch() {
		performance.mark(epochMark);
		state.epochPending = true;
		schedule();
	}

	root.addEventListener("keydown", onKey, { signal });
	const on = (events, fn) => listen(model, events, fn, signal);
	on(["change:labels", "change:tile_titles"], () => schedule({ layout: true }));
	fetcher.subscribe(onEpochs, signal);
	on(["change:epoch"], onEpoch);
	on(
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
	);
	on(["change:selected", "change:selected_tile"], drawOverlays);
	on(["change:title"], showTitle);
	if (typeof ResizeObserver === "function") {
		const resize = new ResizeObserver(() => {
			if (root.clientWidth && root.clientWidth !== state.width) schedule({ layout: true });
		});
		resize.observe(root);
		onAbort(signal, () => resize.disconnect());
	}
	// A new theme changes the ink that labels are drawn with: relayout (font) and repaint.
	watchTheme(root, () => schedule({ layout: true }), { signal });
	showTitle();
	schedule();
}

/**
 * What the views of `model` share, until `signal` aborts: the requester, the
 * kernel watch, the epoch store and its fetcher (which reports counts that cannot
 * be drawn on the console once; views show them on screen).
 */
function shareModel(model, signal) {
	const requester = createRequester(model, { signal });
	const kernel = watchKernel(model, { requester, signal });
	const store = createEpochStore();
	const onTraitError = (message) => console.error(`${LOG} ${message}`);
	const fetcher = createFetcher(model, { store, requester, kernel, signal, onTraitError });
	const shared = { requester, kernel, store, fetcher };
	models.set(model, shared);
	onAbort(signal, () => {
		if (models.get(model) === shared) models.delete(model);
	});
	return shared;
}

// For the browser benchmark (benchmarks/browser/bench.js), which loads only the
// bundle: it encodes its counts as Python does. anywidget reads only `default`.
export { decodePack, encodePack } from "./wire.js";

export default {
	initialize({ model }) {
		const lifetime = new AbortController();
		shareModel(model, lifetime.signal);
		return () => lifetime.abort();
	},
	render({ model, el }) {
		const view = new AbortController();
		// anywidget calls initialize first; a host that does not gets the shared parts
		// made here, living as long as the model.
		const shared = models.get(model) ?? shareModel(model, new AbortController().signal);
		mountView(model, el, shared, view.signal);
		return () => view.abort();
	},
};
