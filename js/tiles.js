// The tile grid: one matrix view per tile title (several runs side by side), in a
// CSS grid whose column count follows the available width. All tiles share one
// geometry, one slider and one set of controls.

import { createMatrixView } from "./matrix_view.js";

const MIN_TILE_WIDTH = 260;
const GAP = 12;

export function createTiles(handlers) {
	const el = document.createElement("div");
	el.className = "cw-tiles";
	let views = [];
	let titles = [];

	function build(next) {
		for (const view of views) view.destroy();
		el.replaceChildren();
		titles = next;
		views = next.map((title, t) => {
			const view = createMatrixView(t, handlers);
			const box = document.createElement("div");
			box.className = "cw-tile";
			// A single tile only gets a heading if Python gave it a name.
			if (next.length > 1 || title) {
				const heading = document.createElement("div");
				heading.className = "cw-tile-title";
				heading.textContent = title;
				box.append(heading);
			}
			box.append(view.el);
			el.append(box);
			return view;
		});
	}

	return {
		el,
		get views() {
			return views;
		},
		/** Rebuilds the tiles when the titles change; returns true if it did. */
		setTitles(next) {
			const list = next.length > 0 ? next.map(String) : [""];
			if (list.length === titles.length && list.every((t, i) => t === titles[i])) return false;
			build(list);
			return true;
		},
		/** Sets the grid columns for `width` CSS pixels; returns the width of one tile. */
		layout(width) {
			const n = views.length;
			const columns = Math.max(1, Math.min(n, Math.floor((width + GAP) / (MIN_TILE_WIDTH + GAP))));
			el.style.gridTemplateColumns = `repeat(${columns}, minmax(0, 1fr))`;
			return Math.floor((width - GAP * (columns - 1)) / columns);
		},
		destroy() {
			for (const view of views) view.destroy();
			views = [];
			el.remove();
		},
	};
}
