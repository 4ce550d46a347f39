// The place search box (console and terminal): names as one types, or coordinates as callers give
// them (GET places, PROTOCOL.md). Choosing a result hands it to the screen (onChoose).

import { api, nameOf } from "./common.js";
import { Component, html } from "./ui.js";

const DEBOUNCE_MS = 150;

export function kindLabel(kind) {
  return {
    place: gettext("place"), street: gettext("street"), poi: gettext("point of interest"), water: gettext("water"),
    jurisdiction: gettext("jurisdiction"), subcenter: gettext("sub-center"), feature: gettext("layer feature"),
    incident_address: gettext("earlier incident's address"), coordinates: gettext("coordinates"),
  }[kind] || kind;
}

function distance(meters) {
  if (meters === null || meters === undefined) return "";
  return meters < 1000 ? `${Math.round(meters)} m` : `${(meters / 1000).toFixed(1)} km`;
}

// A readable address of a reverse lookup (GET reverse): township (or county), then road or place.
export function addressOf(found) {
  if (!found) return "";
  const area = nameOf(found.township) || nameOf(found.county);
  const spot = found.road?.name || found.place?.name || found.poi?.name || "";
  return [area, spot].filter(Boolean).join(" ");
}

export class PlaceSearch extends Component {
  constructor() {
    super();
    this.state = { query: "", answer: null, error: "" };
    this.serial = 0;
  }

  typed(event) {
    const query = event.target.value;
    this.setState({ query });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.search(query), DEBOUNCE_MS);
  }

  async search(query) {
    const serial = ++this.serial;
    if (query.trim().length < 2) { this.setState({ answer: null, error: "" }); return; }
    const center = this.props.map()?.getCenter();
    const params = new URLSearchParams({ q: query });
    if (center) params.set("near", `${center.lng.toFixed(6)},${center.lat.toFixed(6)}`);
    try {
      const answer = await api(`places?${params}`);
      if (serial === this.serial) this.setState({ answer, error: "" });
    } catch (error) {
      if (serial === this.serial) this.setState({ answer: null, error: error.body?.errors?.q?.join(" ") || error.message });
    }
  }

  choose(result) {
    this.setState({ answer: null });
    this.props.onChoose(result);
  }

  keys(event) {
    if (event.key === "Escape") this.setState({ answer: null });
    if (event.key === "Enter") {
      event.preventDefault();
      const results = this.state.answer?.results || [];
      if (results.length === 1 || (results.length && !this.state.answer.ambiguous)) this.choose(results[0]);
    }
  }

  render(_, { query, answer, error }) {
    const results = answer?.results || [];
    return html`<div class="place-search">
      <input type="search" id="place-search" value=${query} autocomplete="off"
        placeholder=${gettext("Find a place, address or coordinates")} aria-label=${gettext("Find a place, address or coordinates")}
        onInput=${(e) => this.typed(e)} onKeyDown=${(e) => this.keys(e)} />
      ${error ? html`<p class="error" id="place-error" role="alert">${error}</p>` : null}
      ${answer?.ambiguous ? html`<p class="question" id="place-question">${gettext("Two readings of these numbers: which did the caller mean?")}</p>` : null}
      ${answer && !results.length ? html`<p class="muted" id="place-none">${gettext("No place found.")}</p>` : null}
      ${results.length ? html`<ul class="list place-results" id="place-results">${results.map((r, i) => html`<li key=${i}>
        <button type="button" data-kind=${r.kind} data-source=${r.source} onClick=${() => this.choose(r)}>
          <strong>${r.name}</strong>
          <span class="muted"> · ${kindLabel(r.kind)}${r.detail ? ` · ${r.detail}` : ""}${r.distance_m !== null && r.distance_m !== undefined ? ` · ${distance(r.distance_m)}` : ""}</span>
          ${r.address ? html`<span class="muted"> · ${addressOf(r.address)}</span>` : null}
        </button></li>`)}</ul>` : null}
    </div>`;
  }
}
