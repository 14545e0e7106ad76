// "Most confused pairs": the largest off-diagonal cells of tile 0 at the current
// epoch, as a collapsible list whose items select their cell. The list is only
// computed while open; closed, the tile's accuracy (or, without one, an
// early-exit scan) decides whether there is anything to show. Tiles come as
// sparse rows (sparse.js) or, from older callers, dense K*K arrays. A click on a
// pair selects its cell and asks (`onPick`) for it to be made visible (zoom).

import { button, element } from "./dom.js";
import { formatCount } from "./format.js";
import { hasOffDiagonalSparse, topConfusedSparse } from "./sparse.js";
import { setTraits, stringList } from "./traits.js";

const TOP = 10;

/** The `n` largest positive off-diagonal cells [{row, col, count}], largest first, ties row-major. */
export function topConfused(counts, K, n = TOP) {
	const top = [];
	let floor = 0; // a cell must beat this to enter a full list
	for (let i = 0; i < K * K; i++) {
		const count = counts[i];
		if (count <= floor || i % (K + 1) === 0) continue;
		let j = top.length;
		while (j > 0 && top[j - 1].count < count) j--;
		top.splice(j, 0, { row: Math.floor(i / K), col: i % K, count });
		if (top.length > n) top.pop();
		if (top.length === n) floor = top[n - 1].count;
	}
	return top;
}

/** Whether any off-diagonal cell is positive (stops at the first). */
export function hasOffDiagonal(counts, K) {
	for (let r = 0; r < K; r++) {
		const row = r * K;
		for (let i = row; i < row + K; i++) if (counts[i] > 0 && i !== row + r) return true;
	}
	return false;
}

export function createConfused(model, { signal, onPick = () => {} }) {
	const el = element("details", "cw-confused");
	el.hidden = true;
	const list = element("ol", "cw-confused-list");
	el.append(element("summary", "", "most confused pairs"), list);

	let tile = null; // {counts | sparse, K} of tile 0 on screen
	let stale = true;

	function render() {
		stale = false;
		const labels = stringList(model, "labels");
		const items = !tile ? [] : tile.sparse ? topConfusedSparse(tile.sparse, TOP) : topConfused(tile.counts, tile.K);
		list.replaceChildren(
			...items.map(({ row, col, count }) => {
				const item = button("cw-confused-item", `${labels[row]} \u2192 ${labels[col]}: ${formatCount(count)}`);
				item.dataset.row = String(row);
				item.dataset.col = String(col);
				const li = element("li");
				li.append(item);
				return li;
			}),
		);
	}

	function onClick(event) {
		const item = event.target.closest?.("button.cw-confused-item");
		if (!item) return;
		const [row, col] = [Number(item.dataset.row), Number(item.dataset.col)];
		setTraits(model, { selected: [row, col], selected_tile: 0 });
		onPick(row, col);
	}

	function onToggle() {
		if (el.open && stale) render();
	}

	el.addEventListener("toggle", onToggle, { signal });
	list.addEventListener("click", onClick, { signal });

	return {
		el,
		/**
		 * Tile 0 on screen: {sparse (CSR) or counts (dense), K, diverging, accuracy:
		 * trace / total from `_accuracy`, if known}, or null. Hidden for differences
		 * and perfect matrices.
		 */
		update(next) {
			tile = next && !next.diverging && (next.sparse || next.counts) ? next : null;
			const scan = () => (tile.sparse ? hasOffDiagonalSparse(tile.sparse) : hasOffDiagonal(tile.counts, tile.K));
			const errors = typeof tile?.accuracy === "number" ? tile.accuracy < 1 : tile && scan();
			el.hidden = !errors;
			stale = true;
			if (el.open && !el.hidden) render();
		},
	};
}
