// Tree: the whole message tree as a graph. Each branch gets a column, a chain of only
// children stays in its column; the current branch is drawn strong, the rest dimmed.
import { add, h, oneLine } from "../dom.js";
import { onLeave } from "../app.js";
import { leafOptions, leafPicker, threadHeader, threadLink } from "./common.js";
import { loadTree } from "./conversation.js";

const GAP_X = 22;
const GAP_Y = 24;
const PAD = 16;

export async function treeView(main, id) {
  const [t] = await Promise.all([loadTree(id), threadHeader(main, id, "tree")]);
  const { nodes, roots } = t;
  // Columns: leaves in depth-first order; a node sits in its first child's column.
  // The edges are two paths (current branch and the rest), the nodes bare circles, and
  // one listener handles clicks and hovers for all of them.
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
  let deepest = 0;
  for (const d of depth.values()) deepest = Math.max(deepest, d);
  const height = PAD * 2 + (deepest + 1) * GAP_Y;
  const svg = h("svg:svg", { class: "tree", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Message tree" });
  const x = (nid) => PAD + col.get(nid) * GAP_X + GAP_X / 2;
  const y = (nid) => PAD + depth.get(nid) * GAP_Y + GAP_Y / 2;
  // Laid out once; drawn only where the box shows (plus a margin), again on scroll:
  // a tree of 10,000 messages costs what its visible part costs.
  const items = [];
  for (const node of nodes.values()) {
    if (!col.has(node.id)) continue;
    const hasParent = node.parent_id !== null && col.has(node.parent_id);
    const role = /^[a-z]+$/.test(node.role) ? node.role : "other";
    items.push({
      node, x: x(node.id), y: y(node.id),
      px: hasParent ? x(node.parent_id) : null, py: hasParent ? y(node.parent_id) : null,
      cls: `node role-${role} ${node.on_current_branch ? "on" : "off"}${node.current ? " current" : ""}`,
    });
  }
  const box = h("div", { class: "tree-box", tabindex: "0", "aria-label": "Tree graph (scrolls)" }, svg);
  const NS = "http://www.w3.org/2000/svg";
  const paint = () => {
    const margin = 300;
    const left = box.scrollLeft - margin, right = box.scrollLeft + (box.clientWidth || 1280) + margin;
    const top = box.scrollTop - margin, bottom = box.scrollTop + (box.clientHeight || 720) + margin;
    const on = [], off = [];
    const frag = document.createDocumentFragment();
    for (const it of items) {
      if (it.px !== null) {
        const x0 = Math.min(it.px, it.x), x1 = Math.max(it.px, it.x);
        if (x1 >= left && x0 <= right && it.y >= top && it.py <= bottom) {
          (it.node.on_current_branch ? on : off).push(it.px === it.x ? `M${it.px} ${it.py}V${it.y}` : `M${it.px} ${it.py}Q${it.x} ${it.py} ${it.x} ${it.y}`);
        }
      }
      if (it.x < left || it.x > right || it.y < top || it.y > bottom) continue;
      const c = document.createElementNS(NS, "circle");
      c.setAttribute("class", it.cls);
      c.setAttribute("data-id", it.node.id);
      c.setAttribute("cx", it.x);
      c.setAttribute("cy", it.y);
      c.setAttribute("r", it.node.current ? 7 : 5);
      frag.append(c);
    }
    svg.replaceChildren(h("svg:path", { class: "off", d: off.join("") || "M0 0" }), h("svg:path", { class: "on", d: on.join("") || "M0 0" }), frag);
  };
  let queued = false;
  box.addEventListener("scroll", () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      paint();
    });
  });
  const tip = h("div", { class: "tip", hidden: true, role: "tooltip" });
  const nodeAt = (e) => {
    const hit = e.target.closest?.("circle[data-id]");
    return hit ? nodes.get(Number(hit.dataset.id)) : null;
  };
  svg.addEventListener("click", (e) => {
    const node = nodeAt(e);
    if (node) location.hash = threadLink(id, "", `leaf=${t.leafUnder(node.id)}&msg=${node.id}`);
  });
  svg.addEventListener("mouseover", (e) => {
    const node = nodeAt(e);
    if (!node) return void tip.setAttribute("hidden", "");
    tip.textContent = "";
    add(tip, `#${node.id} ${node.role}: ${oneLine(node.preview, 80)}`);
    const box = e.target.getBoundingClientRect();
    tip.style.left = `${Math.round(box.right + 6 + window.scrollX)}px`;
    tip.style.top = `${Math.round(box.top + window.scrollY - 4)}px`;
    tip.removeAttribute("hidden");
  });
  svg.addEventListener("mouseleave", () => tip.setAttribute("hidden", ""));
  document.body.append(tip);
  onLeave(() => tip.remove());

  // Leaves, for the keyboard and for choosing two to compare.
  const leaves = t.leaves.map((n) => n.id);
  const current = t.tree.current_leaf_id;
  const pick = (name, chosen) => leafPicker(name, name === "a" ? "First leaf" : "Second leaf", chosen);
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
    "Compare ", pick("a", current), " with ", pick("b", other), " ", h("button", { type: "submit" }, "Diff"), leafOptions(leaves, nodes, current),
  );
  // The branches as a list (for the keyboard), a page at a time.
  const branchList = h("ol", { class: "leaves" });
  const more = h("button", { type: "button", class: "more" });
  let listed = 0;
  const listMore = () => {
    const upto = Math.min(leaves.length, listed + 100);
    for (const l of leaves.slice(listed, upto)) {
      branchList.append(h("li", {}, h("a", { href: threadLink(id, "", `leaf=${l}`), "data-nav": "" }, `#${l}`), l === current ? " (current) " : " ", oneLine(nodes.get(l).preview, 100)));
    }
    listed = upto;
    more.textContent = `Show more branches (${leaves.length - listed} more)`;
    more.hidden = listed >= leaves.length;
  };
  more.addEventListener("click", listMore);
  listMore();
  add(
    main,
    h("p", { class: "legend" }, `${nodes.size} messages · ${leaves.length} branches · `, h("span", { class: "key on" }, "current branch"), " ", h("span", { class: "key off" }, "other branches"), " · click a node to open the conversation there"),
    leaves.length > 1 ? form : null,
    box,
    h("h2", {}, "Branches"),
    branchList,
    more,
  );
  // Start where the current leaf is.
  const here = items.find((it) => it.node.current);
  if (here) {
    box.scrollLeft = Math.max(0, here.x - box.clientWidth / 2);
    box.scrollTop = Math.max(0, here.y - box.clientHeight / 2);
  }
  paint();
}
