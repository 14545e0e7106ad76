// The toolbar: aggregation, colour scale, colormap and "errors only". Each control
// writes its trait and follows it when Python changes it.

import { COLORMAP_NAMES } from "./colormaps.js";
import { element } from "./dom.js";
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
	const label = element("label", "cw-control");
	label.append(element("span", "", text), control);
	return label;
}

function select(className, options) {
	const el = element("select", className);
	for (const [value, text] of options) {
		const option = element("option", "", text);
		option.value = value;
		el.append(option);
	}
	return el;
}

/** Keeps `control[prop]` and `trait` in step both ways until `signal` aborts. */
function bind(model, trait, control, prop, signal) {
	const read = () => {
		control[prop] = prop === "checked" ? Boolean(model.get(trait)) : String(model.get(trait) ?? "");
	};
	control.addEventListener("change", () => setTraits(model, { [trait]: control[prop] }), { signal });
	listen(model, [`change:${trait}`], read, signal);
	read();
}

export function createControls(model, { signal }) {
	const el = element("div", "cw-controls");
	const aggregation = select("cw-aggregation", AGGREGATION_OPTIONS);
	const scale = select("cw-color-scale", SCALE_OPTIONS);
	const colormap = select(
		"cw-colormap",
		COLORMAP_NAMES.map((n) => [n, n]),
	);
	const hide = element("input", "cw-hide-diagonal");
	hide.type = "checkbox";
	el.append(labelled("values", aggregation), labelled("colour", scale), labelled("colormap", colormap), labelled("errors only", hide));
	bind(model, "aggregation", aggregation, "value", signal);
	bind(model, "color_scale", scale, "value", signal);
	bind(model, "colormap", colormap, "value", signal);
	bind(model, "hide_diagonal", hide, "checked", signal);

	// Difference tiles have their own diverging colormap: the choice only matters
	// if some tile is not a difference.
	const syncDiverging = () => {
		const kinds = tileKinds(model, Math.max(1, stringList(model, "tile_titles").length));
		colormap.disabled = kinds.every((k) => k.diverging);
		colormap.title = colormap.disabled ? "difference views use a diverging blue–red colormap" : "";
	};
	listen(model, ["change:_diff_of", "change:tile_titles"], syncDiverging, signal);
	syncDiverging();

	return { el };
}
