// Branch diff: two leaves side by side from their common ancestor.
import { get, tid } from "../api.js";
import { h } from "../dom.js";
import { leafOptions, leafPicker, messageCard, threadHeader, threadLink } from "./common.js";
import { loadTree } from "./conversation.js";

export async function diffView(main, id, params) {
  const head = await threadHeader(main, id, "diff");
  const t = await loadTree(id);
  const leaves = t.leaves.map((n) => n.id);
  const current = head.thread.current_leaf_id;
  const a = Number(params.get("a") || current);
  const b = Number(params.get("b") || (leaves.find((l) => l !== a) ?? a));
  const pick = (name, chosen) => leafPicker(name, name === "a" ? "Left leaf" : "Right leaf", chosen);
  const form = h("form", {
    class: "diff-pick",
    onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(form);
      location.hash = threadLink(id, "/diff", `a=${data.get("a")}&b=${data.get("b")}`);
    },
  }, pick("a", a), " ↔ ", pick("b", b), " ", h("button", { type: "submit" }, "Compare"), leafOptions(leaves, t.nodes, current));
  main.append(form);
  if (!leaves.length || Number.isNaN(a) || Number.isNaN(b)) {
    main.append(h("p", { class: "empty" }, "Nothing to compare."));
    return;
  }
  const doc = await get(`${tid(id)}/diff`, { a, b });
  const side = (name, s) =>
    h("section", { class: `side side-${name}`, "aria-label": `Branch ending at #${s.leaf_id}` },
      h("h2", {}, h("a", { href: threadLink(id, "", `leaf=${s.leaf_id}`) }, `Branch to #${s.leaf_id}`), ` · ${s.messages.length} after the fork`),
      s.messages.length ? s.messages.map((m) => messageCard(m)) : h("p", { class: "empty" }, "(nothing after the common ancestor)"));
  main.append(
    h("p", { class: "ancestor" }, doc.ancestor_id === null ? "No common ancestor (separate roots)." : `Common ancestor #${doc.ancestor_id} · ${doc.common.length} shared message${doc.common.length === 1 ? "" : "s"} (`, doc.ancestor_id === null ? null : h("a", { href: threadLink(id, "", `leaf=${a}&msg=${doc.ancestor_id}`) }, "show"), doc.ancestor_id === null ? null : ")"),
    h("div", { class: "diff" }, side("a", doc.a), side("b", doc.b)),
  );
}
