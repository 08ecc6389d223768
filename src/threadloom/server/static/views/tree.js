// Tree: the whole message tree as a graph. Each branch gets a column, a chain of only
// children stays in its column; the current branch is drawn strong, the rest dimmed.
import { h, oneLine } from "../dom.js";
import { threadHeader, threadLink } from "./common.js";
import { loadTree } from "./conversation.js";

const GAP_X = 22;
const GAP_Y = 24;
const PAD = 16;

export async function treeView(main, id) {
  await threadHeader(main, id, "tree");
  const t = await loadTree(id);
  const { nodes, roots } = t;
  // Columns: leaves in depth-first order; a node sits in its first child's column.
  const col = new Map();
  const depth = new Map();
  let next = 0;
  const stack = [...roots].reverse().map((r) => [r, 0, false]);
  while (stack.length) {
    const [nid, d, done] = stack.pop();
    const node = nodes.get(nid);
    if (done) {
      col.set(nid, node.children.length ? col.get(node.children[0]) : next++);
      continue;
    }
    depth.set(nid, d);
    stack.push([nid, d, true]);
    for (const c of [...node.children].reverse()) stack.push([c, d + 1, false]);
  }
  const width = PAD * 2 + Math.max(1, next) * GAP_X;
  const height = PAD * 2 + (Math.max(0, ...depth.values()) + 1) * GAP_Y;
  const svg = h("svg:svg", { class: "tree", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Message tree" });
  const x = (nid) => PAD + col.get(nid) * GAP_X + GAP_X / 2;
  const y = (nid) => PAD + depth.get(nid) * GAP_Y + GAP_Y / 2;
  const edges = h("svg:g", { class: "edges" });
  const dots = h("svg:g", { class: "nodes" });
  for (const node of nodes.values()) {
    if (!col.has(node.id)) continue;
    if (node.parent_id !== null && col.has(node.parent_id)) {
      const px = x(node.parent_id), py = y(node.parent_id), cx = x(node.id), cy = y(node.id);
      const d = px === cx ? `M${px} ${py}V${cy}` : `M${px} ${py}Q${cx} ${py} ${cx} ${cy}`;
      edges.append(h("svg:path", { d, class: node.on_current_branch ? "on" : "off" }));
    }
    const role = /^[a-z]+$/.test(node.role) ? node.role : "other";
    const leafOf = t.leafUnder(node.id);
    const link = h(
      "svg:a",
      { href: threadLink(id, "", `leaf=${leafOf}&msg=${node.id}`), class: `node role-${role} ${node.on_current_branch ? "on" : "off"}${node.current ? " current" : ""}`, "data-id": node.id },
      h("svg:title", {}, `#${node.id} ${node.role}: ${oneLine(node.preview, 80)}`),
      h("svg:circle", { cx: x(node.id), cy: y(node.id), r: node.current ? 7 : 5 }),
    );
    dots.append(link);
  }
  svg.append(edges, dots);

  // Leaves, for the keyboard and for choosing two to compare.
  const leaves = t.leaves.map((n) => n.id);
  const current = t.tree.current_leaf_id;
  const pick = (name, chosen) =>
    h("select", { name, "aria-label": name === "a" ? "First leaf" : "Second leaf" },
      leaves.map((l) => h("option", { value: l, selected: l === chosen }, `#${l}${l === current ? " (current)" : ""} ${oneLine(nodes.get(l).preview, 40)}`)));
  const other = leaves.find((l) => l !== current) ?? current;
  const form = h(
    "form",
    {
      class: "diff-pick",
      onsubmit: (e) => {
        e.preventDefault();
        const data = new FormData(form);
        location.hash = threadLink(id, "/diff", `a=${data.get("a")}&b=${data.get("b")}`);
      },
    },
    "Compare ", pick("a", current), " with ", pick("b", other), " ", h("button", { type: "submit" }, "Diff"),
  );
  main.append(
    h("p", { class: "legend" }, `${nodes.size} messages · ${leaves.length} branches · `, h("span", { class: "key on" }, "current branch"), " ", h("span", { class: "key off" }, "other branches"), " · click a node to open the conversation there"),
    leaves.length > 1 ? form : null,
    h("div", { class: "tree-box", tabindex: "0", "aria-label": "Tree graph (scrolls)" }, svg),
    h("h2", {}, "Branches"),
    h("ol", { class: "leaves" }, leaves.slice(0, 2000).map((l) =>
      h("li", {}, h("a", { href: threadLink(id, "", `leaf=${l}`), "data-nav": "" }, `#${l}`), l === current ? " (current) " : " ", oneLine(nodes.get(l).preview, 100)))),
  );
  const focus = main.querySelector(".node.current");
  focus?.scrollIntoView?.({ block: "nearest", inline: "center" });
}
