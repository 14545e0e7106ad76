// The viewport of a tile: which part of the K×K matrix the canvas shows. A view
// is {scale, ox, oy}: the cell size in CSS pixels and where cell (0, 0) is drawn,
// in CSS pixels from the canvas' top-left corner (negative when scrolled out of
// view). `geom` is the fitted layout (layout.js computeGeometry): `plot` is the
// rectangle cells are drawn in, `fit` the cell size that shows the whole matrix.
// Pure functions: zoom about a point, pan, box zoom, centring on a cell, clamping,
// the visible cell range and hit-testing under zoom.

/** Cells grow to at most this many CSS pixels (or the fitted size, if larger). */
export const MAX_ZOOM_CELL = 64;
/** Zooming to a class makes its cells at least this large (numbers and labels fit). */
export const FOCUS_CELL = 28;
/** Factor of one +/− button press. */
export const STEP = 1.6;

const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));

/** The whole matrix, as laid out. */
export function fitView(geom) {
	return { scale: geom.fit, ox: geom.plot.left, oy: geom.plot.top };
}

export function maxScale(geom) {
	return Math.max(geom.fit, MAX_ZOOM_CELL);
}

/** Whether `view` shows less than the whole matrix. */
export function isZoomed(geom, view) {
	return view.scale > geom.fit * 1.0001;
}

function clampAxis(offset, extent, start, size) {
	// The matrix may move until its edge reaches the middle of the plot, so that any
	// cell (also the first and the last) can be centred.
	if (extent <= size) return start;
	return clamp(offset, start + size / 2 - extent, start + size / 2);
}

/** `view` with its scale in [fit, max] and the matrix kept over the plot. */
export function clampView(geom, view) {
	const scale = clamp(view.scale, geom.fit, maxScale(geom));
	const n = geom.rows;
	if (scale <= geom.fit * 1.0001) return fitView(geom);
	const { left, top, width, height } = geom.plot;
	return {
		scale,
		ox: clampAxis(view.ox, n * scale, left, width),
		oy: clampAxis(view.oy, n * scale, top, height),
	};
}

/** Zoom by `factor` keeping the matrix point under CSS point (x, y) where it is. */
export function zoomAt(geom, view, factor, x, y) {
	const scale = clamp(view.scale * factor, geom.fit, maxScale(geom));
	const k = scale / view.scale;
	return clampView(geom, { scale, ox: x - (x - view.ox) * k, oy: y - (y - view.oy) * k });
}

/** Zoom by `factor` about the centre of the plot. */
export function zoomCentre(geom, view, factor) {
	const { left, top, width, height } = geom.plot;
	return zoomAt(geom, view, factor, left + width / 2, top + height / 2);
}

export function panBy(geom, view, dx, dy) {
	return clampView(geom, { scale: view.scale, ox: view.ox + dx, oy: view.oy + dy });
}

/** The view that shows the CSS rectangle (x0, y0)–(x1, y1) of the current view as large as fits. */
export function zoomToBox(geom, view, x0, y0, x1, y1) {
	const w = Math.abs(x1 - x0);
	const h = Math.abs(y1 - y0);
	if (w < 2 && h < 2) return view;
	const { width, height } = geom.plot;
	const factor = Math.min(width / Math.max(w, 1), height / Math.max(h, 1));
	const cx = (Math.min(x0, x1) + w / 2 - view.ox) / view.scale;
	const cy = (Math.min(y0, y1) + h / 2 - view.oy) / view.scale;
	return centreOn(geom, view.scale * factor, cx, cy);
}

/** The view at `scale` whose plot centre shows matrix point (cx, cy), in cells. */
export function centreOn(geom, scale, cx, cy) {
	const { left, top, width, height } = geom.plot;
	const s = clamp(scale, geom.fit, maxScale(geom));
	return clampView(geom, { scale: s, ox: left + width / 2 - cx * s, oy: top + height / 2 - cy * s });
}

/** The view centred on cell (row, col), its cells at least FOCUS_CELL pixels (or as now, if larger). */
export function focusCell(geom, view, row, col) {
	return centreOn(geom, Math.max(view.scale, FOCUS_CELL), col + 0.5, row + 0.5);
}

/** The view with cell (row, col) inside the plot: unchanged when it already is and is large enough to see. */
export function revealCell(geom, view, row, col) {
	const { left, top, width, height } = geom.plot;
	const x = view.ox + col * view.scale;
	const y = view.oy + row * view.scale;
	const inside = x >= left && y >= top && x + view.scale <= left + width && y + view.scale <= top + height;
	if (inside && view.scale >= 6) return view;
	return focusCell(geom, view, row, col);
}

/** Rows r0…r1−1 and columns c0…c1−1 that intersect the plot. */
export function visibleRange(geom, view) {
	const { left, top, width, height } = geom.plot;
	const n = geom.rows;
	const s = view.scale;
	return {
		r0: clamp(Math.floor((top - view.oy) / s), 0, n),
		r1: clamp(Math.ceil((top + height - view.oy) / s), 0, n),
		c0: clamp(Math.floor((left - view.ox) / s), 0, n),
		c1: clamp(Math.ceil((left + width - view.ox) / s), 0, n),
	};
}

/** Whether CSS point (x, y) is inside the plot. */
export function inPlot(geom, x, y) {
	const { left, top, width, height } = geom.plot;
	return x >= left && x < left + width && y >= top && y < top + height;
}

/** The drawn cell under CSS point (x, y), or null outside the plot or the matrix. */
export function cellAt(geom, view, x, y) {
	if (!inPlot(geom, x, y)) return null;
	const col = Math.floor((x - view.ox) / view.scale);
	const row = Math.floor((y - view.oy) / view.scale);
	if (!(row >= 0 && row < geom.rows && col >= 0 && col < geom.cols)) return null;
	return { row, col };
}

/** The geometry of `geom` seen through `view`: cellW/cellH the scale, x0/y0 where cell (0, 0) is. */
export function viewGeometry(geom, view) {
	return { ...geom, cellW: view.scale, cellH: view.scale, x0: view.ox, y0: view.oy };
}

/**
 * `view` (of `before`) carried over to a new layout `after` of the same matrix:
 * the same zoom factor over the fitted size and the same cell at the centre.
 */
export function carryView(before, view, after) {
	if (!before || !view || before.rows !== after.rows || !isZoomed(before, view)) return fitView(after);
	const { left, top, width, height } = before.plot;
	const cx = (left + width / 2 - view.ox) / view.scale;
	const cy = (top + height / 2 - view.oy) / view.scale;
	return centreOn(after, (view.scale / before.fit) * after.fit, cx, cy);
}
