// A small, safe Markdown renderer: it builds DOM nodes (text nodes for all text), never
// HTML strings. Raw HTML in the source stays text; links work only for http(s) URLs;
// images are not loaded (no request leaves the viewer's origin), only named.
import { h, safeHref } from "./dom.js";

const INLINE = /`([^`\n]+)`|\*\*([^*\n]+)\*\*|__([^_\n]+)__|\*([^*\n]+)\*|!\[([^\]\n]*)\]\(([^)\s]*)\)|\[([^\]\n]+)\]\(([^)\s]*)\)/g;

function inline(text) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(h("code", {}, m[1]));
    else if (m[2] || m[3]) out.push(h("strong", {}, ...inline(m[2] || m[3])));
    else if (m[4]) out.push(h("em", {}, ...inline(m[4])));
    else if (m[6] !== undefined) out.push(h("span", { class: "md-image" }, `[image: ${m[5] || "untitled"}]`));
    else {
      const href = safeHref(m[8]);
      out.push(
        href && !href.startsWith("#")
          ? h("a", { href, rel: "noopener noreferrer nofollow", target: "_blank", title: href }, ...inline(m[7]))
          : h("span", { class: "md-dead-link", title: "link not followed" }, m[0]),
      );
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function renderMarkdown(source) {
  const frag = document.createDocumentFragment();
  const lines = String(source ?? "").split("\n");
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length) frag.append(h("p", {}, ...inline(para.join("\n"))));
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```+|~~~+)\s*([\w+-]*)/);
    if (fence) {
      flush();
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      frag.append(h("pre", { class: "code", dataset: { lang: fence[2] || "" } }, h("code", {}, body.join("\n"))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      flush();
      frag.append(h(`h${Math.min(6, heading[1].length + 2)}`, { class: "md-h" }, ...inline(heading[2])));
      i++;
      continue;
    }
    if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      flush();
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
        list.append(h("li", {}, ...inline(lines[i].replace(/^\s*([-*+]|\d+[.)])\s+/, ""))));
        i++;
      }
      frag.append(list);
      continue;
    }
    if (/^>\s?/.test(line)) {
      flush();
      const quote = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quote.push(lines[i++].replace(/^>\s?/, ""));
      frag.append(h("blockquote", {}, ...inline(quote.join("\n"))));
      continue;
    }
    if (!line.trim()) {
      flush();
      i++;
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
  return frag;
}
