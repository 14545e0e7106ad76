// The toolbar: aggregation, colour scale, colormap and "errors only". Each control
// writes its trait and follows it when Python changes it.

import { COLORMAP_NAMES } from "./colormaps.js";
import { listen, setTraits, stringList, tileKinds } from "./traits.js";

const AGGREGATION_OPTIONS = [
	["count", "count"],
	["row", "% of row (recall)"],
	["column", "% of column (precision)"],
	["total", "% of total"],
];
const SCALE_OPTIONS = [
	["equal", "equal"],
	["smart", "smart (quantiles)"],
	["log", "log"],
];

function labelled(text, control) {
	const label = document.createElement("label");
	label.className = "cw-control";
	const caption = document.createElement("span");
	caption.textContent = text;
	label.append(caption, control);
	return label;
}

function select(className, options) {
	const el = document.createElement("select");
	el.className = className;
	for (const [value, text] of options) {
		const option = document.createElement("option");
		option.value = value;
		option.textContent = text;
		el.append(option);
	}
	return el;
}

export function createControls(model) {
	const el = document.createElement("div");
	el.className = "cw-controls";
	const aggregation = select("cw-aggregation", AGGREGATION_OPTIONS);
	const scale = select("cw-color-scale", SCALE_OPTIONS);
	const colormap = select("cw-colormap", COLORMAP_NAMES.map((n) => [n, n]));
	const hide = document.createElement("input");
	hide.type = "checkbox";
	hide.className = "cw-hide-diagonal";
	el.append(
		labelled("values", aggregation),
		labelled("colour", scale),
		labelled("colormap", colormap),
		labelled("errors only", hide),
	);

	const bindings = [
		[aggregation, "aggregation", "value"],
		[scale, "color_scale", "value"],
		[colormap, "colormap", "value"],
		[hide, "hide_diagonal", "checked"],
	];
	const cleanups = bindings.map(([control, trait, prop]) => {
		const write = () => setTraits(model, { [trait]: control[prop] });
		const read = () => {
			control[prop] = prop === "checked" ? Boolean(model.get(trait)) : String(model.get(trait) ?? "");
		};
		control.addEventListener("change", write);
		const unlisten = listen(model, [`change:${trait}`], read);
		read();
		return () => {
			control.removeEventListener("change", write);
			unlisten();
		};
	});

	// Difference tiles have their own diverging colormap: the choice only matters
	// if some tile is not a difference.
	const syncDiverging = () => {
		const kinds = tileKinds(model, Math.max(1, stringList(model, "tile_titles").length));
		colormap.disabled = kinds.every((k) => k.diverging);
		colormap.title = colormap.disabled ? "difference views use a diverging blue–red colormap" : "";
	};
	cleanups.push(listen(model, ["change:_diff_of", "change:tile_titles"], syncDiverging));
	syncDiverging();

	return {
		el,
		destroy() {
			for (const cleanup of cleanups) cleanup();
			el.remove();
		},
	};
}
