// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { createSamples, showLists } from "./dyn_samples.js";

/** A requester answering `dyn-samples` with at most `perReply` of the positions asked for. */
function fakeRequester(perReply) {
	const asked = [];
	return {
		asked,
		request(body) {
			asked.push(body);
			if (body.type === "dyn-image") {
				return Promise.resolve({
					msg: { type: "image", buffer: -1, history: [{ title: "", epochs: ["e0"], true: ["a"], pred: ["b"], confidence: [0.5] }] },
					buffers: [],
				});
			}
			const got = body.positions.slice(0, perReply);
			return Promise.resolve({
				msg: {
					type: "dyn-samples",
					positions: got,
					samples: got.map((p) => ({ id: `<b>${p}</b>`, buffer: -1, error: "none", confidence: null })),
				},
				buffers: [],
			});
		},
	};
}

describe("dyn_samples", () => {
	it("asks again for the positions a reply left out", async () => {
		const requester = fakeRequester(2);
		const samples = createSamples(requester, document.createElement("div"), new AbortController().signal);
		const seen = [];
		await samples.fetchThumbs([5, 6, 7, 8, 9], new AbortController().signal, (got) => seen.push(...got));
		expect(seen).toEqual([5, 6, 7, 8, 9]);
		expect(requester.asked.map((b) => b.positions)).toEqual([[5, 6, 7, 8, 9], [7, 8, 9], [9]]);
	});

	it("builds the lists as text, and an entry opens its history", async () => {
		const requester = fakeRequester(10);
		const detail = document.createElement("div");
		const signal = new AbortController().signal;
		const samples = createSamples(requester, detail, signal);
		const box = document.createElement("div");
		const lists = [
			{ key: "suspects", title: "suspects", items: [{ position: 3, id: "<i>x</i>", note: "→ <b>cat</b>" }, { position: "bad" }] },
			{ key: "never", title: "not learned", items: [] },
		];
		showLists(box, lists, false, samples, signal);
		const items = box.querySelectorAll(".cw-dyn-list[data-key='suspects'] li.cw-dyn-item");
		expect(items).toHaveLength(1); // the malformed entry is dropped
		expect(items[0].dataset.sampleId).toBe("<i>x</i>");
		expect(items[0].querySelector("i")).toBeNull(); // text, not HTML
		expect(items[0].textContent).toContain("→ <b>cat</b>");
		expect(box.querySelector(".cw-dyn-list[data-key='never'] .cw-dyn-none")).not.toBeNull();
		items[0].click();
		await new Promise((r) => setTimeout(r, 0));
		expect(requester.asked.at(-1)).toEqual({ type: "dyn-image", position: 3 });
		expect(detail.querySelector(".cw-history tbody tr")).not.toBeNull();
	});
});
