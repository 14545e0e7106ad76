// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { createExportControls } from "./export_controls.js";

describe("export controls", () => {
	it("shows why a CSV cannot be made instead of failing silently", () => {
		const errors = [];
		const view = {
			epoch: 0,
			labels: ["a"],
			titles: [""],
			frame: {
				aggregation: "count",
				get values() {
					throw new Error("a dense matrix of 10000 classes is too large for the browser");
				},
			},
		};
		const controller = new AbortController();
		const controls = createExportControls({ snapshot: () => view, onError: (m) => errors.push(m), signal: controller.signal });
		controls.el.querySelector(".cw-export-csv").click();
		expect(errors).toEqual(["Could not save the CSV: a dense matrix of 10000 classes is too large for the browser"]);
		controller.abort();
	});
});
