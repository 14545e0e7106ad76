// The tile grid: one matrix view per tile title (several runs side by side), in a
// CSS grid whose column count follows the available width, each under a heading
// (title, plus a note such as "showing epoch 3 (its last)"). All tiles share one
// geometry, one viewport (zoom or pan one tile and the others follow), one slider
// and one set of controls. It also reads the drawing traits of the model
// (`display_order`, `pooling`, `_label_groups`, `collapsed`) and turns a click on a
// class label into collapsing or expanding its hierarchy group.

import { element } from "./dom.js";
import { childController } from "./lifetime.js";
import { createMatrixView, orderOf } from "./matrix_view.js";
import { listen, setTraits, stringList } from "./traits.js";
import { carryView, fitView, focusCell, isZoomed, revealCell, zoomCentre } from "./viewport.js";

const MIN_TILE_WIDTH = 260;
const GAP = 12;

/** A list trait (never null). */
function listTrait(model, name) {
	const v = model?.get(name);
	return Array.isArray(v) ? v : [];
}

/**
 * What a click on class `index`'s label does: expand it (a collapsed group: drop it
 * from `collapsed`), collapse its group (`groups[index]`), or nothing (null).
 * Returns the new `collapsed` list or null.
 */
export function labelClick(index, { labels, groups, collapsed }) {
	const name = labels[index];
	if (collapsed.includes(name)) return collapsed.filter((g) => g !== name);
	const group = groups[index];
	if (typeof group === "string" && group && !collapsed.includes(group)) return [...collapsed, group];
	return null;
}

/** Per class: "\u25b8" for a collapsed group, "\u25be" for a class whose label collapses its group, else "". */
export function labelMarks({ labels, groups, collapsed }) {
	const shut = new Set(collapsed);
	return labels.map((name, d) => (shut.has(name) ? "\u25b8" : typeof groups[d] === "string" && groups[d] ? "\u25be" : ""));
}

/**
 * handlers = {onHover, onSelect, onFocus} (see createMatrixView); `model` gives the
 * drawing traits (optional: without it, the identity order and max pooling). The
 * views end with `signal`.
 */
export function createTiles(handlers, { signal, model = null }) {
	const el = element("div", "cw-tiles");
	let views = [];
	let titles = [];
	let headings = [];
	let notes = [];
	let lifetime = null; // ends the current views' listeners when they are rebuilt
	let columns = 1;
	let base = null; // the fitted layout shared by the tiles
	let found = null;
	let pendingFocus = null;
	let drawn = { order: null, inverse: null, marks: null, pooling: "max" };

	/** The drawing traits as the views use them. */
	function readContext() {
		const labels = stringList(model, "labels");
		const n = base?.rows ?? labels.length;
		const groups = listTrait(model, "_label_groups");
		const collapsed = stringList(model, "collapsed");
		const marks = groups.length || collapsed.length ? labelMarks({ labels, groups, collapsed }) : null;
		drawn = { ...orderOf(listTrait(model, "display_order"), n), marks, pooling: model?.get("pooling") === "sum" ? "sum" : "max" };
		for (const view of views) view.setContext(drawn);
	}

	function onView(from, view) {
		// Back at the whole matrix (fit, zooming out): the found class is no longer highlighted.
		const clear = base && !isZoomed(base, view) && found !== null;
		if (clear) found = null;
		views.forEach((v, t) => {
			if (clear) v.setFound(null);
			if (t !== from) v.setView(view);
		});
		if (clear) handlers.onFocus();
	}

	function onLabel(_tile, index) {
		if (!model) return;
		const next = labelClick(index, {
			labels: stringList(model, "labels"),
			groups: listTrait(model, "_label_groups"),
			collapsed: stringList(model, "collapsed"),
		});
		if (next) setTraits(model, { collapsed: next });
	}

	/** Moves every tile to `view` and places the markers. */
	function moveAll(view) {
		for (const v of views) v.setView(view);
		handlers.onFocus();
	}

	if (model) {
		listen(
			model,
			["change:display_order", "change:pooling", "change:_label_groups", "change:collapsed"],
			() => {
				readContext();
				for (const v of views) v.redraw();
				handlers.onFocus();
			},
			signal,
		);
	}

	function showHeading(t) {
		const text = notes[t] ? [titles[t], notes[t]].filter(Boolean).join(" \u00b7 ") : titles[t];
		headings[t].textContent = text;
		// A single tile only shows a heading if it has something to say.
		headings[t].hidden = !text;
	}

	function build(next) {
		lifetime?.abort();
		lifetime = childController(signal);
		el.replaceChildren();
		titles = next;
		notes = next.map(() => "");
		headings = next.map(() => element("div", "cw-tile-title"));
		views = next.map((_, t) => {
			const view = createMatrixView(t, { ...handlers, onView, onLabel, signal: lifetime.signal });
			view.setContext(drawn);
			view.setFound(found);
			const box = element("div", "cw-tile");
			box.append(headings[t], view.el);
			el.append(box);
			showHeading(t);
			return view;
		});
	}

	return {
		el,
		get views() {
			return views;
		},
		/** Each tile's heading as shown (title · note; "" for none). */
		get headings() {
			return headings.map((h) => (h.hidden ? "" : h.textContent));
		},
		/** Tiles per row of the grid. */
		get columns() {
			return columns;
		},
		/** Rebuilds the tiles when the titles change; returns true if it did. */
		setTitles(next) {
			const list = next.length > 0 ? next.map(String) : [""];
			if (list.length === titles.length && list.every((t, i) => t === titles[i])) return false;
			build(list);
			return true;
		},
		/** Sets each tile's note (text after its title; "" for none). */
		setNotes(next) {
			next.forEach((note, t) => {
				if (t >= headings.length || note === notes[t]) return;
				notes[t] = note;
				showHeading(t);
			});
		},
		/** Lays every tile out as `geom` (layout.js), keeping the zoom of the same matrix. */
		setGeometry(geom) {
			const before = base;
			const kept = views[0]?.view;
			base = geom;
			readContext();
			const view = carryView(before, kept, geom);
			for (const v of views) v.setGeometry(geom, view);
			if (pendingFocus !== null) {
				const index = pendingFocus;
				pendingFocus = null;
				this.focusClass(index);
			}
		},
		/** Zooms so that class `index`'s diagonal cell is at the centre of the view, and highlights its row and column. */
		focusClass(index) {
			if (!base) {
				pendingFocus = index; // before the first layout: zoom once laid out
				return;
			}
			if (!(index >= 0 && index < base.rows)) return;
			found = index;
			const d = drawn.inverse ? drawn.inverse[index] : index;
			for (const v of views) v.setFound(found);
			moveAll(focusCell(base, views[0].view, d, d));
		},
		/** Makes the class cell (row, col) visible (zooming when it is too small to see). */
		reveal(row, col) {
			if (!base || !views[0]?.view) return;
			const [r, c] = drawn.inverse ? [drawn.inverse[row], drawn.inverse[col]] : [row, col];
			if (!(r >= 0 && c >= 0 && r < base.rows && c < base.rows)) return;
			moveAll(revealCell(base, views[0].view, r, c));
		},
		/** Shows the whole matrix. */
		fit() {
			if (base) moveAll(fitView(base));
		},
		/** Zooms every tile by `factor` about the centre (0: fit the whole matrix). */
		zoomBy(factor) {
			if (!base || !views[0]?.view) return;
			const next = factor > 0 ? zoomCentre(base, views[0].view, factor) : fitView(base);
			views[0].setView(next);
			onView(0, views[0].view);
			handlers.onFocus();
		},
		/** Sets the grid columns for `width` CSS pixels; returns the width of one tile. */
		layout(width) {
			const n = views.length;
			columns = Math.max(1, Math.min(n, Math.floor((width + GAP) / (MIN_TILE_WIDTH + GAP))));
			el.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
			return Math.floor((width - GAP * (columns - 1)) / columns);
		},
	};
}
