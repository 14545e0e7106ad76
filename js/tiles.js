// The tile grid: one matrix view per tile title (several runs side by side), in a
// CSS grid whose column count follows the available width, each under a heading
// (title, plus a note such as "showing epoch 3 (its last)"). All tiles share one
// geometry, one slider and one set of controls.

import { element } from "./dom.js";
import { childController } from "./lifetime.js";
import { createMatrixView } from "./matrix_view.js";

const MIN_TILE_WIDTH = 260;
const GAP = 12;

/** handlers = {onHover, onSelect, onFocus} (see createMatrixView); the views end with `signal`. */
export function createTiles(handlers, { signal }) {
	const el = element("div", "cw-tiles");
	let views = [];
	let titles = [];
	let headings = [];
	let notes = [];
	let lifetime = null; // ends the current views' listeners when they are rebuilt
	let columns = 1;

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
			const view = createMatrixView(t, { ...handlers, signal: lifetime.signal });
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
		/** Sets the grid columns for `width` CSS pixels; returns the width of one tile. */
		layout(width) {
			const n = views.length;
			columns = Math.max(1, Math.min(n, Math.floor((width + GAP) / (MIN_TILE_WIDTH + GAP))));
			el.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
			return Math.floor((width - GAP * (columns - 1)) / columns);
		},
	};
}
