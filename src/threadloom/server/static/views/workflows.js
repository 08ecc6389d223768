// Workflow runs: run → branches → leaves, replay hits and divergences marked.
import { get } from "../api.js";
import { add, ago, h, jsonTree, tag } from "../dom.js";

const runLink = (id) => `#/workflows/${encodeURIComponent(id)}`;

export async function runsView(main) {
  main.append(h("h1", {}, "Workflow runs"));
  const { runs } = await get("workflows/runs", { limit: 100 });
  if (!runs.length) {
    main.append(h("p", { class: "empty" }, "No workflow runs recorded."));
    return;
  }
  main.append(h("div", { class: "runs", role: "list" }, runs.map((r) =>
    h("a", { class: "run", href: runLink(r.id), role: "listitem", "data-nav": "" },
      h("span", { class: "name" }, r.workflow_id), h("span", { class: "preview" }, r.goal),
      h("span", { class: "facts" }, tag(r.status, `status-${r.status}`), ` started ${ago(r.started_at)}`)))));
}

function leafItem(leaf) {
  return h("li", { class: `leaf${leaf.replay ? " replay-" + leaf.replay : ""}` },
    h("span", { class: "name" }, leaf.leaf_id), " ", tag(leaf.status, `status-${leaf.status}`),
    leaf.replay === "hit" ? tag("replay hit", "replayhit") : null,
    leaf.replay === "diverged" ? tag("diverged", "diverged") : null,
    h("details", {}, h("summary", {}, "output"), jsonTree(leaf.output, 2), leaf.artifacts !== null ? jsonTree(leaf.artifacts, 1, "artifacts") : null));
}

export async function runView(main, runId) {
  const doc = await get(`workflows/runs/${encodeURIComponent(runId)}`);
  const r = doc.run;
  add(
    main,
    h("p", {}, h("a", { href: "#/workflows" }, "← runs")),
    h("h1", {}, r.workflow_id),
    h("p", { class: "meta" }, tag(r.status, `status-${r.status}`), ` ${r.goal} · started ${ago(r.started_at)}`),
    h("ul", { class: "run-tree" },
      doc.branches.map((b) => h("li", { class: "branch" },
        h("span", { class: "name" }, `${b.branch_id} @ ${b.node_id}`), " ", tag(b.status, `status-${b.status}`),
        h("ul", {}, b.leaves.map(leafItem)))),
      doc.leaves.map(leafItem)),
    doc.control_nodes.length ? h("h2", {}, "Control nodes") : null,
    h("ul", { class: "run-tree" }, doc.control_nodes.map((n) => h("li", {},
      h("span", { class: "name" }, `${n.node_id} (${n.kind})`), " ", tag(n.status, `status-${n.status}`),
      h("ul", {}, n.candidates.map((c) => h("li", {}, `${c.candidate_id} `, tag(String(c.status)), c.score !== null ? ` score ${c.score}` : "", c.passed === null ? "" : c.passed ? " ✓" : " ✗")))))),
    h("details", {}, h("summary", {}, "metadata"), jsonTree(r.metadata, 2)),
  );
}
