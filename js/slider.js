// The epoch slider: range input, play/pause (~2 epochs/s, stops at the last
// epoch), the epoch's name and its overall accuracy per tile. Hidden when there
// is only one epoch.

import { button, element } from "./dom.js";
import { formatPercent } from "./format.js";
import { onAbort } from "./lifetime.js";
import { intTrait, listen, setTraits, stringList } from "./traits.js";

const PLAY_INTERVAL_MS = 500;

/** "accuracy 93.1%" for one tile, "A 93% · B 91%" for several; "" when unknown. */
export function accuracyText(row, titles) {
	if (!Array.isArray(row)) return "";
	const known = (v) => typeof v === "number" && Number.isFinite(v);
	if (titles.length <= 1) return known(row[0]) ? `accuracy ${formatPercent(row[0])}` : "";
	return titles
		.map((title, t) => (known(row[t]) ? `${title || `tile ${t}`} ${formatPercent(row[t])}` : null))
		.filter(Boolean)
		.join(" \u00b7 ");
}

/** `canAdvance()` says whether the shown epoch has arrived, so playback waits for data. */
export function createSlider(model, { signal, canAdvance = () => true }) {
	const el = element("div", "cw-slider");
	const play = button("cw-play");
	const input = element("input", "cw-epoch-slider");
	input.type = "range";
	input.min = "0";
	input.step = "1";
	input.setAttribute("aria-label", "epoch");
	const name = element("span", "cw-epoch-label");
	const accuracy = element("span", "cw-accuracy");
	el.append(play, input, name, accuracy);

	let timer = null;
	const last = () => Math.max(0, intTrait(model, "n_epochs", 1) - 1);
	const setEpoch = (epoch) => setTraits(model, { epoch: Math.max(0, Math.min(last(), epoch)) });

	function setPlaying(on) {
		clearInterval(timer);
		timer = on ? setInterval(tick, PLAY_INTERVAL_MS) : null;
		play.textContent = on ? "\u275a\u275a" : "\u25b6";
		play.setAttribute("aria-label", on ? "pause" : "play");
		play.setAttribute("aria-pressed", String(on));
	}

	function tick() {
		const epoch = intTrait(model, "epoch");
		if (epoch >= last()) setPlaying(false);
		else if (canAdvance()) setEpoch(epoch + 1);
	}

	function sync() {
		const n = intTrait(model, "n_epochs", 1);
		const epoch = intTrait(model, "epoch");
		el.hidden = n <= 1;
		input.disabled = n <= 1;
		play.disabled = n <= 1;
		input.max = String(Math.max(0, n - 1));
		input.value = String(epoch);
		name.textContent = stringList(model, "epoch_labels")[epoch] || `epoch ${epoch}`;
		const acc = model.get("_accuracy");
		accuracy.textContent = accuracyText(Array.isArray(acc) ? acc[epoch] : null, stringList(model, "tile_titles"));
		if (n <= 1 && timer) setPlaying(false);
	}

	const onInput = () => setEpoch(Number(input.value));
	const onPlay = () => {
		if (timer) return setPlaying(false);
		// Playing from the end restarts from the first epoch.
		if (intTrait(model, "epoch") >= last()) setEpoch(0);
		setPlaying(true);
	};
	input.addEventListener("input", onInput, { signal });
	play.addEventListener("click", onPlay, { signal });
	listen(model, ["change:epoch", "change:n_epochs", "change:epoch_labels", "change:_accuracy", "change:tile_titles"], sync, signal);
	onAbort(signal, () => clearInterval(timer));
	setPlaying(false);
	sync();

	return { el };
}
