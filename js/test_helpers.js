// Test doubles shared by the vitest suites (not part of the bundle): a fake
// anywidget model and a recording 2D canvas context for jsdom, which has none.

import { encodePack, TRAITS } from "./wire.js";

const DEFAULTS = {
	labels: ["cat", "dog", "bird"],
	tile_titles: [""],
	epoch_labels: [],
	n_epochs: 1,
	epoch: 0,
	aggregation: "count",
	color_scale: "equal",
	colormap: "blues",
	hide_diagonal: false,
	selected: null,
	selected_tile: 0,
	page_size: 25,
	title: "",
	_counts: encodePack([], { K: 3 }),
	_revision: 0,
	_accuracy: [],
	_diff_of: [null],
	_tile_epochs: [],
	_metrics: [],
	_has_metrics: false,
	_metrics_open: false,
	threshold: null,
	_has_samples: true,
};

const KNOWN = new Set(TRAITS);

/** Code under test may only use the synced traits that wire.js lists. */
function known(name) {
	if (!KNOWN.has(name)) throw new Error(`fake model: ${JSON.stringify(name)} is not a synced trait (wire.js TRAITS)`);
	return name;
}

/**
 * A model with get/set/on/off/save_changes/send; `reply` plays a Python message.
 * Reading, writing or watching a trait that is not synced throws. `comm_live`
 * (kernel.js) says a kernel answers; pass null to leave it to the ping.
 */
export function createFakeModel(initial = {}, { commLive = true } = {}) {
	const attrs = { ...DEFAULTS, ...initial };
	const handlers = new Map();
	const model = {
		comm_live: commLive,
		sent: [],
		saves: 0,
		get: (name) => attrs[known(name)],
		set(name, value) {
			const old = attrs[known(name)];
			const binary = ArrayBuffer.isView(old) || ArrayBuffer.isView(value);
			const same = binary ? old === value : JSON.stringify(old) === JSON.stringify(value);
			attrs[name] = value;
			if (!same) model.emit(`change:${name}`, model, value);
		},
		on(event, fn) {
			if (event.startsWith("change:")) known(event.slice("change:".length));
			if (!handlers.has(event)) handlers.set(event, new Set());
			handlers.get(event).add(fn);
		},
		off(event, fn) {
			handlers.get(event)?.delete(fn);
		},
		save_changes() {
			model.saves++;
		},
		send(msg) {
			model.sent.push(msg);
		},
		emit(event, ...args) {
			for (const fn of [...(handlers.get(event) ?? [])]) fn(...args);
		},
		reply(msg, buffers = []) {
			model.emit("msg:custom", msg, buffers);
		},
		/** Listeners on `event`, or on all events. */
		listenerCount: (event) =>
			event === undefined ? [...handlers.values()].reduce((n, set) => n + set.size, 0) : (handlers.get(event)?.size ?? 0),
	};
	return model;
}

const RECORDED = [
	"setTransform",
	"clearRect",
	"fillRect",
	"strokeRect",
	"fillText",
	"save",
	"restore",
	"translate",
	"rotate",
	"setLineDash",
	"putImageData",
	"drawImage",
];

function fakeContext(canvas) {
	const ctx = {
		canvas,
		calls: [],
		fillStyle: "",
		strokeStyle: "",
		font: "",
		lineWidth: 1,
		textAlign: "",
		textBaseline: "",
		imageSmoothingEnabled: true,
		measureText: (text) => ({ width: text.length * 6 }),
		createLinearGradient: (...args) => {
			const gradient = { args, stops: [], addColorStop: (pos, css) => gradient.stops.push([pos, css]) };
			return gradient;
		},
		createImageData: (width, height) => ({ width, height, data: new Uint8ClampedArray(width * height * 4) }),
		named: (name) => ctx.calls.filter((c) => c.name === name),
		reset: () => {
			ctx.calls.length = 0;
		},
	};
	for (const name of RECORDED) {
		ctx[name] = (...args) => ctx.calls.push({ name, args, fillStyle: ctx.fillStyle });
	}
	return ctx;
}

/** Makes every canvas return a recording context; returns a restore function. */
export function installFakeCanvas() {
	const proto = HTMLCanvasElement.prototype;
	const original = proto.getContext;
	proto.getContext = function getContext() {
		this.__fake ??= fakeContext(this);
		return this.__fake;
	};
	return () => {
		proto.getContext = original;
	};
}

/**
 * [K*K counts per tile] per epoch → {epoch, tile, values} entries for encodePack.
 * `epochs`: {epoch: [tile0, tile1, …]} (flat K*K arrays).
 */
export function packTiles(epochs) {
	return Object.entries(epochs).flatMap(([epoch, tiles]) => tiles.map((values, tile) => ({ epoch: Number(epoch), tile, values })));
}

/** Lets queued microtasks and resolved promises run. */
export async function settle() {
	for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}
