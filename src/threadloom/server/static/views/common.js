// Pieces several views share: a session's header with its tabs, message cards.
import { get, post, tid } from "../api.js";
import { ago, h, oneLine, tag, when, jsonTree } from "../dom.js";
import { renderMarkdown } from "../markdown.js";
import { server } from "../app.js";

export const TABS = [
  ["conversation", "Conversation", ""],
  ["tree", "Tree", "/tree"],
  ["diff", "Diff", "/diff"],
  ["checkpoints", "Checkpoints", "/checkpoints"],
  ["goal", "Goal", "/goal"],
  ["tools", "Tools", "/tools"],
];

export function threadLink(id, suffix = "", params = "") {
  return `#/t/${encodeURIComponent(id)}${suffix}${params ? "?" + params : ""}`;
}

export async function threadHeader(main, id, active) {
  const doc = await get(tid(id));
  const t = doc.thread;
  const actions = h("div", { class: "actions" });
  if (!server.read_only) {
    actions.append(
      h("button", { type: "button", class: "rename", onclick: () => rename(id, doc.title) }, "Rename"),
      h(
        "button",
        { type: "button", class: "archive", onclick: () => archive(id, !t.archived) },
        t.archived ? "Unarchive" : "Archive",
      ),
    );
  }
  main.append(
    h(
      "section",
      { class: "thread-head" },
      h("h1", { class: "title" }, doc.title),
      h(
        "p",
        { class: "meta" },
        tag(t.status, `status-${t.status}`),
        t.archived ? tag("archived", "status-archived") : null,
        ` ${t.cwd} · updated ${ago(t.updated_at)} · ${doc.message_count} messages · ${doc.branch_count} branches`,
        t.git_branch ? ` · ${t.git_branch}` : "",
        h("span", { class: "id" }, ` · ${t.id}`),
      ),
      actions,
      h(
        "nav",
        { class: "tabs", "aria-label": "Session views" },
        TABS.map(([key, label, suffix]) =>
          h("a", { href: threadLink(id, suffix), "data-tab": key, class: key === active ? "active" : "", "aria-current": key === active ? "page" : null }, label),
        ),
      ),
    ),
  );
  return doc;
}

async function rename(id, current) {
  const name = window.prompt("New name (empty removes it)", current);
  if (name === null) return;
  await post(`${tid(id)}/rename`, { name: name.trim() || null });
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

async function archive(id, archived) {
  await post(`${tid(id)}/archive`, { archived });
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

// Long content is collapsed: the first part is shown, the rest one click away, in
// steps, so a 10 MB line never lands in the page at once.
const SHOWN = 3000;
const STEP = 200000;
const MARKDOWN_MAX = 20000;

export function messageBody(content) {
  const box = h("div", { class: "body" });
  let shown = Math.min(content.length, SHOWN);
  const paint = () => {
    box.replaceChildren();
    const part = content.slice(0, shown);
    if (content.length <= MARKDOWN_MAX) box.append(renderMarkdown(part));
    else box.append(h("pre", { class: "plain" }, part));
    if (shown < content.length) {
      box.append(
        h(
          "button",
          {
            type: "button",
            class: "more",
            onclick: () => {
              shown = Math.min(content.length, shown + STEP);
              paint();
            },
          },
          `Show more (${(content.length - shown).toLocaleString()} more characters)`,
        ),
      );
    }
  };
  paint();
  return box;
}

function itemSummary(item) {
  if (!item || typeof item !== "object") return null;
  const type = item.type || item.kind || "item";
  const name = item.name || item.tool || item.function?.name;
  return `${type}${name ? ": " + name : ""}`;
}

export function messageCard(m, extra = {}) {
  const folded = m.role === "tool";
  const body = m.content ? messageBody(m.content) : null;
  const item =
    m.item !== null && m.item !== undefined
      ? h("details", { class: "item" }, h("summary", {}, itemSummary(m.item) || "item"), jsonTree(m.item, 2))
      : null;
  const content = folded
    ? h("details", { class: "tool-output" }, h("summary", {}, `tool output · ${oneLine(m.content, 60) || "(empty)"}`), body)
    : body;
  return h(
    "article",
    {
      class: `msg role-${/^[a-z]+$/.test(m.role) ? m.role : "other"}${extra.current ? " current" : ""}`,
      id: `m${m.id}`,
      tabindex: "0",
      "data-nav": "",
      "data-id": m.id,
    },
    h(
      "header",
      {},
      h("span", { class: "num" }, `#${m.id}`),
      h("span", { class: "role" }, m.role),
      h("time", { title: when(m.created_at) }, ago(m.created_at)),
      extra.current ? tag("current leaf", "current") : null,
      extra.header || null,
    ),
    content,
    item,
    extra.footer || null,
  );
}

// A leaf picker: a text field with the leaves as suggestions (a <select> of a thousand
// branches would cost the page a second to lay out, and help nobody). The suggestions
// are one <datalist> per form, from leafOptions().
export function leafPicker(name, label, chosen) {
  return h("input", { name, value: chosen ?? "", "aria-label": label, list: "leaf-options", inputmode: "numeric", size: 8, required: true, pattern: "[0-9]+" });
}

export function leafOptions(leaves, nodes, current) {
  return h("datalist", { id: "leaf-options" },
    leaves.map((l) => h("option", { value: l }, `${l === current ? "(current) " : ""}${oneLine(nodes.get(l)?.preview, 40)}`)));
}
