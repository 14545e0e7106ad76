// "Find a class": a search box in the toolbar that matches class names by
// substring (case-insensitive; names that start with the query first) and shows a
// short list of suggestions. Choosing one (Enter, or a click) calls
// `onChoose(index)`, which zooms to the class; so does a change of the `_focus`
// trait ([displayed index, nonce], set by Python's `w.focus(name)`). Names are
// text (textContent), never HTML.

import { button, element } from "./dom.js";
import { listen, stringList } from "./traits.js";

/** Suggestions shown at most. */
export const SUGGESTIONS = 8;

/** Indices of `labels` containing `query` (case-insensitive), prefix matches first, at most `limit`. */
export function matchLabels(labels, query, limit = SUGGESTIONS) {
	const q = String(query).trim().toLowerCase();
	if (!q) return [];
	const starts = [];
	const contains = [];
	for (let i = 0; i < labels.length && starts.length < limit; i++) {
		const name = String(labels[i]).toLowerCase();
		const at = name.indexOf(q);
		if (at === 0) starts.push(i);
		else if (at > 0 && contains.length < limit) contains.push(i);
	}
	return [...starts, ...contains].slice(0, limit);
}

/** The class index a `_focus` value names ([index, nonce]), or null. */
export function focusIndex(value, K) {
	if (!Array.isArray(value) || value.length < 1) return null;
	const index = value[0];
	return Number.isInteger(index) && index >= 0 && index < K ? index : null;
}

export function createSearch(model, { onChoose, signal }) {
	const el = element("div", "cw-search");
	const input = element("input", "cw-search-input");
	input.type = "search";
	input.placeholder = "find a class";
	input.setAttribute("aria-label", "find a class by name");
	input.autocomplete = "off";
	const list = element("ul", "cw-search-list");
	list.setAttribute("role", "listbox");
	list.hidden = true;
	el.append(input, list);

	let matches = [];
	let active = 0;

	function show() {
		const labels = stringList(model, "labels");
		matches = matchLabels(labels, input.value);
		active = 0;
		list.replaceChildren(
			...matches.map((index, k) => {
				const item = button("cw-search-item", labels[index]);
				item.dataset.index = String(index);
				item.setAttribute("role", "option");
				item.classList.toggle("cw-active", k === active);
				const li = element("li");
				li.append(item);
				return li;
			}),
		);
		list.hidden = matches.length === 0;
	}

	function highlight(next) {
		if (!matches.length) return;
		active = (next + matches.length) % matches.length;
		list.querySelectorAll(".cw-search-item").forEach((item, k) => {
			item.classList.toggle("cw-active", k === active);
		});
	}

	function choose(index) {
		list.hidden = true;
		const labels = stringList(model, "labels");
		if (index >= 0 && index < labels.length) {
			input.value = labels[index];
			onChoose(index);
		}
	}

	input.addEventListener("input", show, { signal });
	input.addEventListener(
		"keydown",
		(e) => {
			// Typing here must not step epochs or move the selection.
			e.stopPropagation();
			if (e.key === "ArrowDown" || e.key === "ArrowUp") {
				e.preventDefault();
				highlight(active + (e.key === "ArrowDown" ? 1 : -1));
			} else if (e.key === "Enter") {
				e.preventDefault();
				if (!matches.length) show();
				if (matches.length) choose(matches[active]);
			} else if (e.key === "Escape") {
				list.hidden = true;
			}
		},
		{ signal },
	);
	// mousedown, so the choice is made before the input loses focus.
	list.addEventListener(
		"mousedown",
		(e) => {
			const item = e.target.closest?.("button.cw-search-item");
			if (!item) return;
			e.preventDefault();
			choose(Number(item.dataset.index));
		},
		{ signal },
	);
	input.addEventListener(
		"blur",
		() => {
			list.hidden = true;
		},
		{ signal },
	);

	const fromTrait = () => {
		const index = focusIndex(model.get("_focus"), stringList(model, "labels").length);
		if (index !== null) onChoose(index);
	};
	listen(model, ["change:_focus"], fromTrait, signal);
	fromTrait();

	return { el, input, choose };
}
