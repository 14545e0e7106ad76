// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { composePng, csvField, csvText, exportName, pngLayout, pngScale } from "./export.js";
import { computeFrame } from "./frame.js";
import { computeGeometry } from "./layout.js";
import { installFakeCanvas } from "./test_helpers.js";

/** RFC 4180 fields of one CSV line (quoted fields may hold commas, quotes and newlines). */
function parseCsv(text) {
	const rows = [];
	let row = [];
	let field = "";
	let quoted = false;
	for (let i = 0; i < text.length; i++) {
		const ch = text[i];
		if (quoted) {
			if (ch === '"' && text[i + 1] === '"') {
				field += '"';
				i++;
			} else if (ch === '"') quoted = false;
			else field += ch;
		} else if (ch === '"') quoted = true;
		else if (ch === ",") {
			row.push(field);
			field = "";
		} else if (ch === "\r" && text[i + 1] === "\n") {
			row.push(field);
			rows.push(row);
			row = [];
			field = "";
			i++;
		} else field += ch;
	}
	return rows;
}

describe("CSV", () => {
	it("quotes commas, quotes and newlines (RFC 4180)", () => {
		expect(csvField("plain")).toBe("plain");
		expect(csvField("a,b")).toBe('"a,b"');
		expect(csvField('say "hi"')).toBe('"say ""hi"""');
		expect(csvField("two\nlines")).toBe('"two\nlines"');
		expect(csvField("cr\rhere")).toBe('"cr\rhere"');
	});

	it("defuses cells a spreadsheet would run as formulas", () => {
		for (const text of ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"]) expect(csvField(text).replace(/^"/, "")).toMatch(/^'/);
		expect(csvField('=HYPERLINK("x","y")')).toBe(`"'=HYPERLINK(""x"",""y"")"`);
		expect(csvField("a=b")).toBe("a=b");
	});

	it("one tile: class names as header row and first column, first header cell empty, no totals", () => {
		const labels = ["cat, big", 'the "dog"', "=bird"];
		const text = csvText({ labels, titles: [""], values: [Float64Array.from([5, 1, 0, 2, 7, 0, 0, 0, 3e9])], aggregation: "count" });
		expect(text.endsWith("\r\n")).toBe(true);
		expect(parseCsv(text)).toEqual([
			["", "cat, big", 'the "dog"', "'=bird"],
			["cat, big", "5", "1", "0"],
			['the "dog"', "2", "7", "0"],
			["'=bird", "0", "0", "3000000000"],
		]);
	});

	it("several tiles: a leading tile column; fractions to 6 significant digits, signed values stay numbers", () => {
		const labels = ["a", "b"];
		const values = [Float64Array.from([2 / 3, 1 / 3, 0, 1]), Float64Array.from([-0.25, 0.25, 0, 0])];
		const rows = parseCsv(csvText({ labels, titles: ["run\nA", "B \u2212 A"], values, aggregation: "row" }));
		expect(rows).toEqual([
			["tile", "", "a", "b"],
			["run\nA", "a", "0.666667", "0.333333"],
			["run\nA", "b", "0", "1"],
			["B \u2212 A", "a", "-0.25", "0.25"],
			["B \u2212 A", "b", "0", "0"],
		]);
	});

	it("names files by epoch", () => {
		expect(exportName(3, "png")).toBe("confusion-epoch-3.png");
	});
});

describe("PNG", () => {
	let restore;
	beforeEach(() => {
		restore = installFakeCanvas();
	});
	afterEach(() => restore());

	const labels = ["cat", "dog", "bird"];
	const measure = (t) => t.length * 6;
	const geom = computeGeometry({ labels, width: 300, measure });
	const kinds = [
		{ diverging: false, diffOf: null },
		{ diverging: false, diffOf: null },
		{ diverging: true, diffOf: [0, 1] },
	];
	const A = [5, 1, 0, 0, 4, 2, 0, 0, 6];
	const B = [6, 0, 0, 1, 5, 0, 0, 0, 6];
	const store = { tile: (_epoch, t) => Int32Array.from([A, B, B.map((b, i) => b - A[i])][t]) };
	const frame = computeFrame(store, 0, {
		K: 3,
		T: 3,
		kinds,
		aggregation: "count",
		colorScale: "equal",
		colormap: "blues",
		hideDiagonal: false,
	});
	const view = {
		geom,
		frame,
		headings: ["run A", "run B", "B \u2212 A"],
		title: "my <b>run</b>",
		columns: 2,
		ink: "rgb(20, 20, 20)",
		family: "sans-serif",
	};

	it("lays tiles out in the screen's columns under the title and legend", () => {
		const layout = pngLayout({ geom, T: 3, columns: 2, title: "x" });
		expect(layout.tiles).toHaveLength(3);
		expect(layout.tiles[0].y).toBe(layout.tiles[1].y);
		expect(layout.tiles[2].x).toBe(layout.tiles[0].x);
		expect(layout.tiles[2].y).toBeGreaterThan(layout.tiles[0].y + geom.height);
		expect(layout.width).toBe(12 * 2 + 2 * geom.width + 12);
		expect(pngLayout({ geom, T: 1, columns: 4, title: "" }).width).toBe(geom.width + 24);
	});

	it("re-renders every tile at 2× (not an upscaled screenshot), with headings, labels and the legend", () => {
		const canvas = composePng(view);
		const layout = pngLayout({ geom, T: 3, columns: 2, title: view.title });
		expect([canvas.width, canvas.height]).toEqual([layout.width * 2, layout.height * 2]);
		const ctx = canvas.getContext("2d");
		const texts = ctx.named("fillText").map((c) => c.args[0]);
		expect(texts).toEqual(expect.arrayContaining(["my <b>run</b>", "run A", "run B", "B \u2212 A", "cat", "dog", "bird", "count"]));
		// Each tile is drawn from its values at a 2× transform: 3 tiles' non-zero cells as rects.
		const transforms = ctx.named("setTransform").map((c) => c.args);
		expect(transforms[0]).toEqual([2, 0, 0, 2, 0, 0]);
		expect(transforms.slice(1).map((t) => [t[4], t[5]])).toEqual(layout.tiles.map(({ x, y }) => [x * 2, y * 2]));
		const cells = ctx.named("fillRect").filter((c) => c.args[2] === geom.cellW - 1);
		expect(cells).toHaveLength(5 + 4 + 5); // the non-zero cells of A, B and B − A
		expect(ctx.named("drawImage")).toHaveLength(0);
		// The legend: a gradient bar per scale (sequential and diverging), with ticks.
		const bars = ctx.named("fillRect").filter((c) => typeof c.fillStyle === "object");
		expect(bars).toHaveLength(2);
		expect(bars[0].fillStyle.stops.length).toBeGreaterThan(1);
		// The page: opaque, light under dark ink.
		expect(ctx.named("fillRect")[0]).toMatchObject({ fillStyle: "#ffffff" });
	});

	it("keeps the background of the root, or a dark one under light ink", () => {
		const dark = composePng({ ...view, ink: "rgb(230, 230, 230)" })
			.getContext("2d")
			.named("fillRect")[0];
		expect(dark.fillStyle).toBe("#111111");
		const own = composePng({ ...view, background: "rgb(1, 2, 3)" })
			.getContext("2d")
			.named("fillRect")[0];
		expect(own.fillStyle).toBe("rgb(1, 2, 3)");
	});

	it("a huge view is drawn at a smaller scale than 2 rather than not at all", () => {
		expect(pngScale(1000, 800)).toBe(2);
		expect(pngScale(12000, 4000)).toBeCloseTo(16384 / 12000);
		expect(pngScale(9000, 9000)).toBeCloseTo(Math.sqrt(120e6 / 81e6));
	});
});
