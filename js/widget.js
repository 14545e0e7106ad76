// placeholder, replaced by the frontend
export default { render({ el }) { el.textContent = "confusion-widget"; } };
