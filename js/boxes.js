// Detection boxes over an image: an SVG whose viewBox is the original image size,
// laid exactly over an `object-fit: contain` <img>, so box coordinates never need
// rescaling by hand. Ground truth solid green, predictions dashed orange.

import { svgElement } from "./dom.js";

/** An <svg class="cw-boxes"> for `boxes` in a width×height image, or null if nothing to draw. */
export function createBoxesOverlay(boxes, width, height) {
	if (!Array.isArray(boxes) || boxes.length === 0 || !(width > 0) || !(height > 0)) return null;
	const svg = svgElement("svg", "cw-boxes", {
		viewBox: `0 0 ${width} ${height}`,
		preserveAspectRatio: "xMidYMid meet",
		"aria-hidden": "true",
	});
	const fontSize = Math.max(width, height) / 12;
	for (const box of boxes) {
		if (!Array.isArray(box?.xyxy) || box.xyxy.length !== 4) continue;
		const [x0, y0, x1, y1] = box.xyxy.map(Number);
		const kind = box.kind === "gt" ? "gt" : "pred";
		const group = svgElement("g", `cw-box cw-box-${kind}`);
		group.append(
			svgElement("rect", "", {
				x: x0,
				y: y0,
				width: Math.max(0, x1 - x0),
				height: Math.max(0, y1 - y0),
				"vector-effect": "non-scaling-stroke",
			}),
		);
		if (box.label != null && box.label !== "") {
			// Truth labels sit above the box, predictions inside its bottom edge, so a
			// matched pair does not print one label over the other.
			const y = kind === "gt" ? Math.max(fontSize, y0 - 1) : Math.max(fontSize, y1 - 2);
			const text = svgElement("text", "", { x: x0 + 1, y, "font-size": fontSize });
			text.textContent = String(box.label);
			group.append(text);
		}
		svg.append(group);
	}
	return svg;
}
