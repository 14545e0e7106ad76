// Export of the current view for reports: the epoch's matrix as CSV text, and the
// whole view (title, legend, every tile with its heading and class labels) as one
// canvas re-rendered at 2× pixel density. Pure but for the canvas it draws on.
// Text from Python goes into CSV cells quoted and formula-safe, and onto the canvas
// with fillText (never as HTML).

import { legendTicks, legendTitle } from "./legend.js";
import { paintTile } from "./matrix_view.js";

const PAD = 12;
const GAP = 12;
const TITLE_H = 22;
const HEADING_H = 18;
const LEGEND_H = 34;
const BAR_W = 160;
const BAR_H = 10;
/** Largest canvas side and area browsers draw reliably (Chromium: 16,384 px, 268 Mpx). */
const MAX_SIDE = 16384;
const MAX_PIXELS = 120e6;

/** One CSV field: text that a spreadsheet would run as a formula gets a leading ', then RFC 4180 quoting. */
export function csvField(text) {
	let s = String(text ?? "");
	if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
	return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A value as the CSV holds it: counts whole, fractions (row/column/total) to 6 significant digits. */
function csvNumber(value, aggregation) {
	if (!Number.isFinite(value)) return "";
	return String(aggregation === "count" ? value : Number(value.toPrecision(6)));
}

/**
 * The matrix of the current epoch in the current aggregation: class names as
 * header row and first column (first header cell empty), no totals; with several
 * tiles a leading `tile` column holds each row's tile title.
 * view = {labels, titles, values: [K*K per tile], aggregation}.
 */
export function csvText({ labels, titles, values, aggregation }) {
	const K = labels.length;
	const several = values.length > 1;
	const lines = [[...(several ? ["tile"] : []), "", ...labels.map(csvField)].join(",")];
	values.forEach((tile, t) => {
		for (let r = 0; r < K; r++) {
			const row = several ? [csvField(titles[t] || `tile ${t}`)] : [];
			row.push(csvField(labels[r]));
			for (let c = 0; c < K; c++) row.push(csvNumber(tile[r * K + c], aggregation));
			lines.push(row.join(","));
		}
	});
	return `${lines.join("\r\n")}\r\n`;
}

/** "confusion-epoch-3.png" */
export function exportName(epoch, ext) {
	return `confusion-epoch-${epoch}.${ext}`;
}

/** Where each part goes, in CSS pixels: {width, height, title, legend, tiles: [{x, y}]}. */
export function pngLayout({ geom, T, columns, title }) {
	const cols = Math.max(1, Math.min(T, columns));
	const rows = Math.ceil(T / cols);
	const top = PAD + (title ? TITLE_H : 0);
	const tilesTop = top + LEGEND_H;
	const tiles = Array.from({ length: T }, (_, t) => ({
		x: PAD + (t % cols) * (geom.width + GAP),
		y: tilesTop + Math.floor(t / cols) * (HEADING_H + geom.height + GAP),
	}));
	return {
		width: PAD * 2 + cols * geom.width + (cols - 1) * GAP,
		height: tilesTop + rows * (HEADING_H + geom.height) + (rows - 1) * GAP + PAD,
		title: title ? { x: PAD, y: PAD + TITLE_H / 2 } : null,
		legend: { x: PAD, y: top },
		tiles,
	};
}

/** The pixel scale for a `width` × `height` CSS image: `wanted`, less if the canvas would be too large. */
export function pngScale(width, height, wanted = 2) {
	return Math.min(wanted, MAX_SIDE / width, MAX_SIDE / height, Math.sqrt(MAX_PIXELS / (width * height)));
}

function drawLegend(ctx, { x, y }, scales, aggregation, ink, family) {
	ctx.fillStyle = ink;
	ctx.font = `11px ${family}`;
	ctx.textAlign = "left";
	ctx.textBaseline = "middle";
	const name = legendTitle(scales, aggregation);
	ctx.fillText(name, x, y + BAR_H / 2);
	let left = x + ctx.measureText(name).width + 10;
	for (const scale of scales) {
		if (scale.bar.length) {
			const gradient = ctx.createLinearGradient(left, 0, left + BAR_W, 0);
			for (const stop of scale.bar) gradient.addColorStop(Math.min(1, Math.max(0, stop.pos)), stop.css);
			ctx.fillStyle = gradient;
			ctx.fillRect(left, y, BAR_W, BAR_H);
		}
		ctx.fillStyle = ink;
		ctx.textBaseline = "top";
		for (const tick of legendTicks(scale.ticks, aggregation, scale.diverging)) {
			ctx.textAlign = tick.pos <= 0 ? "left" : tick.pos >= 1 ? "right" : "center";
			ctx.fillText(tick.text, left + tick.pos * BAR_W, y + BAR_H + 3);
		}
		ctx.textBaseline = "middle";
		left += BAR_W + 24;
	}
}

/** The page behind the image: the root's own background, or one that the ink reads on. */
function backgroundFor(background, ink) {
	if (background && !/^(transparent|rgba\(.*,\s*0\))$/.test(background)) return background;
	const rgb = /(\d+)\D+(\d+)\D+(\d+)/.exec(ink);
	const light = rgb && 0.299 * rgb[1] + 0.587 * rgb[2] + 0.114 * rgb[3] > 128;
	return light ? "#111111" : "#ffffff";
}

/**
 * The view drawn on a new canvas at `scale` (2 unless too large): the title,
 * the legend and every tile under its heading, re-rendered (not upscaled).
 * view = {geom, frame, headings: [text per tile], title, columns, ink, family, background}.
 */
export function composePng({ geom, frame, headings, title, columns, ink, family, background }, wanted = 2) {
	const T = frame.scales.length;
	const layout = pngLayout({ geom, T, columns, title });
	const scale = pngScale(layout.width, layout.height, wanted);
	const canvas = document.createElement("canvas");
	canvas.width = Math.round(layout.width * scale);
	canvas.height = Math.round(layout.height * scale);
	const ctx = canvas.getContext("2d");
	if (!ctx) throw new Error("this browser cannot draw on a canvas");
	ctx.setTransform(scale, 0, 0, scale, 0, 0);
	ctx.fillStyle = backgroundFor(background, ink);
	ctx.fillRect(0, 0, layout.width, layout.height);
	if (layout.title) {
		ctx.fillStyle = ink;
		ctx.font = `bold 14px ${family}`;
		ctx.textAlign = "left";
		ctx.textBaseline = "middle";
		ctx.fillText(title, layout.title.x, layout.title.y);
	}
	drawLegend(ctx, layout.legend, frame.legend, frame.aggregation, ink, family);
	const scratch = {};
	layout.tiles.forEach(({ x, y }, t) => {
		ctx.setTransform(scale, 0, 0, scale, x * scale, y * scale);
		if (headings[t]) {
			ctx.fillStyle = ink;
			ctx.font = `12px ${family}`;
			ctx.textAlign = "left";
			ctx.textBaseline = "middle";
			ctx.fillText(headings[t], 0, HEADING_H / 2);
		}
		ctx.translate(0, HEADING_H);
		// Sparse rows where the frame has them (never a dense K×K array at large K).
		const sparse = frame.sparse?.[t];
		const tile = {
			sparse,
			values: sparse ? null : frame.values[t],
			scale: frame.scales[t],
			aggregation: frame.aggregation,
			diverging: frame.diverging[t],
		};
		paintTile(ctx, geom, tile, { ink, family, scratch });
	});
	return canvas;
}
