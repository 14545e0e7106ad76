import { describe, expect, it } from "vitest";
import { legendTicks } from "./legend.js";

describe("legendTicks", () => {
	it("keeps the ends and only the edges that do not crowd", () => {
		const ticks = [1, 2, 3, 4, 6, 7, 8, 15, 70, 76].map((value, i, all) => ({ value, pos: i / (all.length - 1) }));
		const kept = legendTicks(ticks, "count", false);
		expect(kept[0].text).toBe("1");
		expect(kept[kept.length - 1].text).toBe("76");
		for (let i = 1; i < kept.length; i++) expect(kept[i].pos - kept[i - 1].pos).toBeGreaterThanOrEqual(0.2);
		expect(kept.length).toBeGreaterThan(2);
	});
	it("drops ticks that read the same, in percent", () => {
		const ticks = [0.5, 0.5001, 0.9].map((value, i) => ({ value, pos: i / 2 }));
		expect(legendTicks(ticks, "row", false).map((t) => t.text)).toEqual(["50%", "90%"]);
	});
});
