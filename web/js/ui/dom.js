// A few DOM helpers: elements built with `h`, never from HTML strings (no injection from names or posts).

/** h("button", {class: "x", onclick: f, "aria-label": "..."}, "text", child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace `el`'s children, keeping keyboard focus on the element with the same `data-focus-key`. */
export function fill(el, ...children) {
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.focusKey : null;
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  if (key) {
    const again = el.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

export function initials(name) {
  const clean = (name || "?").replace(/_/g, " ").trim();
  const parts = clean.split(/\s+/);
  return ((parts[0] || "?")[0] + (parts[1] ? parts[1][0] : clean[1] || "")).toUpperCase();
}

/** A stable hue for a user id, for avatars. */
export function hueOf(user) {
  let x = 0;
  for (const c of user || "") x = (x * 31 + c.charCodeAt(0)) % 360;
  return x;
}

export function avatar(person, size = "") {
  const el = h("span", { class: `avatar ${size}`, "aria-hidden": "true" }, initials(person.name));
  el.style.setProperty("--hue", String(hueOf(person.user)));
  return el;
}

export function isGuest(user) {
  return typeof user === "string" && user.startsWith("g-");
}

export function timeText(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

export function dateTimeText(ms) {
  return new Date(ms).toLocaleString([], { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
