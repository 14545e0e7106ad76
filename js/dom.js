// Building light DOM: one helper for HTML elements (text always as textContent,
// never as HTML: class names and captions come from Python) and one for SVG.

/** <tag class="className">text</tag>; an empty className or an undefined text is left out. */
export function element(tag, className = "", text) {
	const node = document.createElement(tag);
	if (className) node.className = className;
	if (text !== undefined) node.textContent = text;
	return node;
}

/** A <button type="button"> (not a form submit). */
export function button(className, text) {
	const node = element("button", className, text);
	node.type = "button";
	return node;
}

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element with its class and attributes (values are stringified). */
export function svgElement(tag, className, attrs = {}) {
	const node = document.createElementNS(SVG, tag);
	if (className) node.setAttribute("class", className);
	for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
	return node;
}
