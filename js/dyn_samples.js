// The dynamics view's samples (dynamics_view.js wires them to the model): the
// thumbnails of positions, fetched from Python with `dyn-samples` requests (a reply
// may hold fewer than asked for: the rest is asked for next), a sample's larger
// image and history (`dyn-image`), and the lists of most forgotten, not learned
// and suspected samples. Object URLs end with the view's signal. Text from Python
// is always textContent.

import { button, element } from "./dom.js";
import { formatPercent } from "./format.js";
import { createHistory } from "./history.js";
import { childController, onAbort } from "./lifetime.js";
import { bufferAt } from "./wire.js";

/** The most positions one `dyn-samples` request asks for (MAX_SAMPLES in Python). */
const MAX_SAMPLES = 200;

/**
 * Thumbnails and details of samples by position, through `requester`; `detail`
 * is the element a sample's larger image and history go into.
 */
export function createSamples(requester, detail, signal) {
	const urls = new Set();
	onAbort(signal, () => {
		for (const url of urls) URL.revokeObjectURL(url);
	});
	const objectUrl = (buffer, mime) => {
		const url = URL.createObjectURL(new Blob([buffer], { type: mime || "image/png" }));
		urls.add(url);
		return url;
	};

	function figureOf(sample, buffers, position, onOpen) {
		const figure = element("figure", "cw-thumb");
		figure.dataset.position = String(position);
		const buffer = bufferAt(buffers, sample.buffer);
		if (sample.error || !buffer) {
			const missing = element("div", "cw-thumb-missing", "no image");
			missing.dataset.sampleId = String(sample.id);
			missing.title = String(sample.error || "image not available");
			figure.append(missing);
		} else {
			const img = element("img");
			img.dataset.sampleId = String(sample.id);
			img.alt = `sample ${sample.id}`;
			img.src = objectUrl(buffer, sample.mime);
			figure.append(img);
		}
		const conf = typeof sample.confidence === "number" ? ` \u00b7 ${formatPercent(sample.confidence)}` : "";
		figure.append(element("figcaption", "", `#${sample.id}${conf}`));
		figure.tabIndex = 0;
		figure.addEventListener("click", () => onOpen(position), { signal });
		figure.addEventListener("keydown", (e) => e.key === "Enter" && onOpen(position), { signal });
		return figure;
	}

	/** Thumbnails of `positions` (asked for until all came, as replies may hold fewer). */
	async function fetchThumbs(positions, cancel, onReply) {
		let rest = positions;
		while (rest.length > 0 && !cancel.aborted) {
			const { msg, buffers } = await requester.request({ type: "dyn-samples", positions: rest.slice(0, MAX_SAMPLES) }, { signal: cancel });
			const got = Array.isArray(msg.positions) ? msg.positions : [];
			const samples = Array.isArray(msg.samples) ? msg.samples : [];
			if (got.length === 0) break;
			onReply(got, samples, buffers);
			rest = rest.slice(got.length);
		}
	}

	let detailFill = childController(signal);
	function openDetail(position) {
		detailFill.abort();
		detailFill = childController(signal);
		const cancel = detailFill.signal;
		detail.replaceChildren(element("div", "cw-dyn-loading", "loading\u2026"));
		detail.dataset.position = String(position);
		requester
			.request({ type: "dyn-image", position }, { signal: cancel })
			.then(({ msg, buffers }) => {
				if (cancel.aborted) return;
				detail.replaceChildren();
				const close = button("cw-dyn-detail-close", "\u00d7");
				close.setAttribute("aria-label", "close");
				close.addEventListener("click", () => detail.replaceChildren(), { signal: cancel });
				detail.append(close);
				const buffer = bufferAt(buffers, msg.buffer);
				if (buffer) {
					const img = element("img", "cw-dyn-large");
					img.src = objectUrl(buffer, msg.mime);
					img.alt = `sample at position ${position}`;
					detail.append(img);
				}
				const history = createHistory(msg.history);
				if (history) detail.append(history);
			})
			.catch((err) => {
				if (!err?.cancelled) detail.replaceChildren(element("div", "cw-dyn-error", String(err?.message ?? err)));
			});
	}

	return { objectUrl, figureOf, fetchThumbs, openDetail };
}

/**
 * The lists (`_lists`: [{key, title, items: [{position, id, note}]}]) into `container`,
 * each entry with its thumbnail (when `hasImages`) and opening its detail on a
 * click or Enter. Ends with `cancel`.
 */
export function showLists(container, given, hasImages, samples, cancel) {
	const { fetchThumbs, objectUrl, openDetail } = samples;
	container.replaceChildren();
	for (const list of Array.isArray(given) ? given : []) {
		if (!list || typeof list !== "object") continue;
		const items = Array.isArray(list.items) ? list.items.filter((it) => Number.isInteger(it?.position)) : [];
		const section = element("section", "cw-dyn-list");
		section.dataset.key = String(list.key ?? "");
		section.append(element("h4", "", `${String(list.title ?? "")} (${items.length})`));
		const ul = element("ul");
		const byPos = new Map();
		for (const it of items) {
			const li = element("li", "cw-dyn-item");
			li.dataset.position = String(it.position);
			li.dataset.sampleId = String(it.id);
			const slot = element("div", "cw-dyn-item-thumb");
			li.append(slot, element("span", "cw-dyn-item-id", `#${it.id}`), element("span", "cw-dyn-item-note", String(it.note ?? "")));
			li.tabIndex = 0;
			li.addEventListener("click", () => openDetail(it.position), { signal: cancel });
			li.addEventListener("keydown", (e) => e.key === "Enter" && openDetail(it.position), { signal: cancel });
			byPos.set(it.position, slot);
			ul.append(li);
		}
		if (items.length === 0) ul.append(element("li", "cw-dyn-none", "none"));
		section.append(ul);
		container.append(section);
		if (items.length && hasImages) {
			fetchThumbs(
				items.map((it) => it.position),
				cancel,
				(got, replies, buffers) => {
					replies.forEach((s, i) => {
						const buffer = bufferAt(buffers, s.buffer);
						const slot = byPos.get(got[i]);
						if (!slot || !buffer) return;
						const img = element("img");
						img.src = objectUrl(buffer, s.mime);
						img.alt = `sample ${s.id}`;
						slot.append(img);
					});
				},
			).catch(() => {});
		}
	}
}
