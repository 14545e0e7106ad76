import { describe, expect, it } from "vitest";
import { formatCount, formatPercent, formatValue } from "./format.js";

describe("format", () => {
	it("percentages carry 0–1 decimals and tiny shares never read as 0", () => {
		expect(formatPercent(0.5)).toBe("50%");
		expect(formatPercent(0.123)).toBe("12%");
		expect(formatPercent(0.0123)).toBe("1.2%");
		expect(formatPercent(0.01)).toBe("1%");
		expect(formatPercent(0.0001)).toBe("<0.1%");
		expect(formatPercent(0)).toBe("0%");
	});
	it("counts are integers; differences are signed", () => {
		expect(formatCount(12345)).toBe("12,345");
		expect(formatCount(3, true)).toBe("+3");
		expect(formatCount(-3, true)).toBe("\u22123");
		expect(formatValue(-0.25, "row", true)).toBe("\u221225%");
		expect(formatValue(0.25, "column", true)).toBe("+25%");
		expect(formatValue(7, "count")).toBe("7");
	});
});
