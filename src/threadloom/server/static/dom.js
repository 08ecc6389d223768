// DOM helpers. Everything shown from the store goes through text nodes, never through
// an HTML parser, so stored text can never become markup.

// Bidirectional-text controls can make text read differently from what it is
// ("Trojan Source"); they are shown as visible markers instead.
const BIDI = /[\u202A-\u202E\u2066-\u2069\u200E\u200F\u061C]/g;

export function visible(text) {
  return String(text ?? "").replace(
    BIDI,
    (c) => `\u27E6U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}\u27E7`,
  );
}

// The only attributes h() sets (besides aria-* and data-*): nothing that loads a URL
// or runs code.
const ATTRIBUTES = new Set([
  "class", "id", "title", "type", "name", "value", "placeholder", "role", "tabindex", "rows",
  "colspan", "min", "max", "low", "high", "optimum", "disabled", "selected", "open", "hidden",
  "required", "autocomplete", "scope", "rel", "target", "lang", "width", "height", "viewBox",
  "d", "cx", "cy", "r", "list", "inputmode", "size", "pattern",
]);

// h("div", {class: "x", onclick: fn}, "text", child...) -> element.
// Attributes: "on…" only as functions (listeners), "href" only for safe URLs.
export function h(tag, attrs = {}, ...children) {
  const svg = tag.startsWith("svg:");
  const el = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {
      if (typeof value === "function") el.addEventListener(key.slice(2), value);
      continue;
    }
    if (key === "href") {
      const safe = safeHref(value);
      if (safe) el.setAttribute("href", safe);
      continue;
    }
    if (!ATTRIBUTES.has(key) && !/^(aria|data)-[a-z-]+$/.test(key)) continue;
    if (key === "dataset") {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
      continue;
    }
    el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(visible(child)));
  }
  return el;
}

// Links inside the viewer (#/...) and http(s) links; nothing else (javascript:, data:,
// vbscript:, protocol-relative and the rest become plain text).
export function safeHref(value) {
  const text = String(value ?? "").trim();
  if (text.startsWith("#/")) return text;
  if (/^https?:\/\/[^\s]+$/i.test(text)) {
    try {
      const url = new URL(text);
      if (url.protocol === "http:" || url.protocol === "https:") return url.href;
    } catch {
      return null;
    }
  }
  return null;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function ago(stamp) {
  if (stamp === null || stamp === undefined) return "-";
  const delta = Math.round(Date.now() / 1000 - stamp);
  const abs = Math.abs(delta);
  if (abs < 45) return "just now";
  for (const [unit, s] of [["y", 31536000], ["mo", 2592000], ["d", 86400], ["h", 3600], ["m", 60]]) {
    if (abs >= s) {
      const n = Math.floor(abs / s);
      return delta < 0 ? `in ${n}${unit}` : `${n}${unit} ago`;
    }
  }
  return "just now";
}

export function when(stamp) {
  if (stamp === null || stamp === undefined) return "";
  return new Date(stamp * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function oneLine(text, width = 80) {
  const line = String(text ?? "").split("\n").find((l) => l.trim()) ?? "";
  return line.length > width ? line.slice(0, width - 1) + "…" : line;
}

export function tag(text, kind = "") {
  return h("span", { class: `tag ${kind}` }, text);
}

// A collapsible view of any JSON value, built from text nodes.
export function jsonTree(value, open = 1, key = null) {
  const label = key === null ? [] : [h("span", { class: "json-key" }, JSON.stringify(key)), ": "];
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
    if (!entries.length) return h("div", { class: "json-leaf" }, ...label, brackets.join(""));
    const details = h(
      "details",
      { class: "json-node", open: open > 0 },
      h("summary", {}, ...label, `${brackets[0]} ${entries.length} ${Array.isArray(value) ? "items" : "keys"} ${brackets[1]}`),
    );
    for (const [k, v] of entries) details.append(jsonTree(v, open - 1, Array.isArray(value) ? null : k));
    return details;
  }
  const kind = value === null ? "null" : typeof value;
  let text = JSON.stringify(value);
  if (text.length > 2000) text = text.slice(0, 2000) + ` … (${text.length} characters)`;
  return h("div", { class: "json-leaf" }, ...label, h("span", { class: `json-${kind}` }, text));
}

// Replace an element's children (null, false and undefined are skipped, text is text).
export function fill(el, ...children) {
  return append(clear(el), children);
}

// Append children to an element (null, false and undefined skipped, text as text).
export function add(el, ...children) {
  return append(el, children);
}
