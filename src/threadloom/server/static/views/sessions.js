// Sessions: the picker (filters, pages, live) and search results.
import { get, listen } from "../api.js";
import { ago, fill, h, oneLine, tag } from "../dom.js";
import { onLeave } from "../app.js";
import { threadLink } from "./common.js";

const STATUSES = ["running", "idle", "completed", "failed", "paused", "archived"];

function hashWith(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const text = q.toString();
  return `#/${text ? "?" + text : ""}`;
}

export async function sessionsView(main, params) {
  const filters = {
    status: params.get("status") || "",
    archived: params.get("archived") || "",
    cwd: params.get("cwd") || "",
    name: params.get("name") || "",
    page: params.get("page") || "",
  };
  const go = (change) => (location.hash = hashWith({ ...filters, page: "", ...change }));
  const field = (key, label, input) => h("label", {}, label, input);
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (e) => {
        e.preventDefault();
        const data = new FormData(e.target);
        go(Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v).trim()])));
      },
    },
    field("status", "Status ", h("select", { name: "status", onchange: (e) => e.target.form.requestSubmit() },
      h("option", { value: "" }, "any"),
      STATUSES.map((s) => h("option", { value: s, selected: filters.status === s }, s)))),
    field("archived", "Archived ", h("select", { name: "archived", onchange: (e) => e.target.form.requestSubmit() },
      h("option", { value: "" }, "hidden"),
      h("option", { value: "include", selected: filters.archived === "include" }, "included"),
      h("option", { value: "only", selected: filters.archived === "only" }, "only"))),
    field("name", "Name ", h("input", { name: "name", value: filters.name, placeholder: "contains…" })),
    field("cwd", "Directory ", h("input", { name: "cwd", value: filters.cwd, placeholder: "/path" })),
    h("button", { type: "submit" }, "Filter"),
  );
  const list = h("div", { class: "sessions", role: "list" });
  const pager = h("p", { class: "pager" });
  main.append(h("h1", {}, "Sessions"), form, list, pager);

  const paint = async () => {
    const doc = await get("threads", {
      status: filters.status, archived: filters.archived, cwd: filters.cwd, name: filters.name,
      page: filters.page, limit: 25,
    });
    list.replaceChildren();
    if (!doc.threads.length) list.append(h("p", { class: "empty" }, "No sessions match."));
    for (const t of doc.threads) {
      const href = threadLink(t.id);
      list.append(
        h(
          "a",
          { class: "session", href, role: "listitem", "data-nav": "", "data-id": t.id },
          h("span", { class: "name" }, t.title),
          h("span", { class: "preview" }, oneLine(t.preview, 140)),
          h(
            "span",
            { class: "facts" },
            tag(t.status, `status-${t.status}`),
            t.archived ? tag("archived", "status-archived") : null,
            h("span", {}, ago(t.updated_at)),
            h("span", {}, `${t.message_count} msgs`),
            h("span", {}, `${t.branch_count} branches`),
            h("span", { class: "cwd" }, t.cwd),
          ),
        ),
      );
    }
    fill(pager, 
      doc.page > 1 ? h("a", { href: hashWith({ ...filters, page: String(doc.page - 1) }) }, "← newer") : null,
      ` page ${doc.page} of ${doc.pages} · ${doc.total} sessions `,
      doc.page < doc.pages ? h("a", { href: hashWith({ ...filters, page: String(doc.page + 1) }) }, "older →") : null,
    );
  };
  await paint();
  onLeave(listen({}, { threads: () => paint() }));
}

export async function searchView(main, params) {
  const q = params.get("q") || "";
  document.getElementById("search").value = q;
  main.append(h("h1", {}, "Search: ", h("q", {}, q)));
  const doc = await get("search", { q, limit: 100 });
  const list = h("div", { class: "hits", role: "list" });
  if (!doc.hits.length) list.append(h("p", { class: "empty" }, "Nothing found."));
  for (const hit of doc.hits) {
    const href = threadLink(hit.thread_id, "", hit.message_id ? `msg=${hit.message_id}` : "");
    list.append(
      h(
        "a",
        { class: "hit", href, role: "listitem", "data-nav": "" },
        h("span", { class: "where" }, hit.message_id ? `#${hit.message_id} ${hit.role || ""} in ` : `${hit.matched_in || "session"} of `, h("strong", {}, hit.thread_name || hit.thread_id.slice(0, 8)), hit.on_current_branch === false ? " (another branch)" : ""),
        h("span", { class: "snippet" }, marked(hit.snippet, hit.highlights || [])),
      ),
    );
  }
  main.append(list);
}

// The snippet with its matches in <mark>: offsets from the server, text nodes only.
function marked(snippet, highlights) {
  const out = [];
  let at = 0;
  for (const [start, end] of highlights) {
    if (start < at || end > snippet.length) continue;
    out.push(snippet.slice(at, start), h("mark", {}, snippet.slice(start, end)));
    at = end;
  }
  out.push(snippet.slice(at));
  return out;
}
