// Telling the person: toasts (a few at once, the oldest leaving first; errors as alerts) and the live region
// that screen readers announce.

import { h } from "./dom.js";

/** A toast; `action` is [label, fn]: a button that dismisses it and calls fn. */
export function toast(text, { kind = "info", sticky = false, action = null } = {}) {
  const box = document.getElementById("toasts");
  const close = () => el.remove();
  const el = h(
    "div",
    { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text),
    action &&
      h("button", { class: "btn small primary", type: "button", onclick: () => { close(); action[1](); } }, action[0]),
    h("button", { class: "icon-btn", type: "button", "aria-label": "Dismiss", onclick: close }, "×"),
  );
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  if (!sticky) setTimeout(close, kind === "error" ? 8000 : 5000);
}

/** Says `text` to screen readers (the page's live region). */
export function announce(text) {
  document.getElementById("announcer").textContent = text;
}
