// The toolbar's "order" select: the order classes are drawn in (the `order`
// option: "index", "name", "errors", "cluster", or a list of class names that
// Python turns into `display_order`). A list shows as "custom" (not selectable:
// it comes from Python). Writes the trait and follows it.

import { element } from "./dom.js";
import { listen, setTraits } from "./traits.js";

export const ORDER_OPTIONS = [
	["index", "index"],
	["name", "name"],
	["errors", "most errors first"],
	["cluster", "clusters (confused together)"],
];

export function createOrderControl(model, { signal }) {
	const el = element("label", "cw-control cw-order");
	const input = element("select", "cw-order-select");
	for (const [value, text] of [...ORDER_OPTIONS, ["custom", "custom"]]) {
		const option = element("option", "", text);
		option.value = value;
		option.disabled = value === "custom";
		input.append(option);
	}
	input.title = "the order rows and columns are drawn in";
	el.append(element("span", "", "order"), input);

	const read = () => {
		const value = model.get("order");
		input.value = typeof value === "string" && ORDER_OPTIONS.some(([v]) => v === value) ? value : Array.isArray(value) ? "custom" : "index";
	};
	input.addEventListener(
		"change",
		() => {
			if (input.value !== "custom") setTraits(model, { order: input.value });
		},
		{ signal },
	);
	listen(model, ["change:order"], read, signal);
	read();
	return { el, input };
}
