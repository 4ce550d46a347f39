// The screens' view layer: Preact diffs what a screen renders from the store into the page, so an
// update touches only what changed — an open select, typed text, a ticked box or a map survives it.
// htm gives Preact's elements a template syntax without a build step. Text is always text: Preact sets
// it as a text node, never as HTML (we never use dangerouslySetInnerHTML).

import { h, render, Component, Fragment, createRef } from "../../vendor/preact/preact.module.js";
import htm from "../../vendor/htm/htm.module.js";

export { h, render, Component, Fragment, createRef };
export const html = htm.bind(h);
