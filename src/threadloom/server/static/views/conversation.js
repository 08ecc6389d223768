// Conversation: one branch as a transcript, a switcher at every fork, live appends.
import { get, listen, post, tid } from "../api.js";
import { fill, h, tag } from "../dom.js";
import { onLeave, server } from "../app.js";
import { messageCard, threadHeader, threadLink } from "./common.js";

const PAGE = 200;

// The tree's nodes by id, and the leaf a node leads to: down the current branch where
// the node is on it, else down its newest child.
export async function loadTree(id) {
  const tree = await get(`${tid(id)}/tree`);
  const nodes = new Map(tree.nodes.map((n) => [n.id, n]));
  const roots = tree.nodes.filter((n) => n.parent_id === null || !nodes.has(n.parent_id)).map((n) => n.id);
  // Every node's leaf in one pass: children before parents (reverse depth-first order).
  const order = [];
  const stack = [...roots];
  while (stack.length) {
    const nid = stack.pop();
    order.push(nid);
    for (const c of nodes.get(nid).children) if (nodes.has(c)) stack.push(c);
  }
  const leafOf = new Map();
  for (let i = order.length - 1; i >= 0; i--) {
    const node = nodes.get(order[i]);
    const kids = node.children.filter((c) => leafOf.has(c));
    const next = kids.find((c) => nodes.get(c).on_current_branch) ?? kids[kids.length - 1];
    leafOf.set(node.id, next === undefined ? node.id : leafOf.get(next));
  }
  const leafUnder = (start) => leafOf.get(start) ?? start;
  const leaves = tree.nodes.filter((n) => !n.children.length);
  return { tree, nodes, roots, leafUnder, leaves, order };
}

export async function conversationView(main, id, params) {
  const msg = params.get("msg") ? Number(params.get("msg")) : null;
  // The tree (for the switchers) comes beside the page, not before it: a long thread's
  // transcript shows first, its switchers a moment later.
  const treeLoad = loadTree(id);
  treeLoad.catch(() => {}); // a missing thread is reported once, by the header
  const headLoad = threadHeader(main, id, "conversation");
  let explicit = params.get("leaf") ? Number(params.get("leaf")) : null;
  const t = { nodes: new Map(), roots: [], leaves: [], leafUnder: (x) => x };
  if (explicit === null && msg !== null) {
    Object.assign(t, await treeLoad);
    explicit = t.leafUnder(msg);
  }
  const pageLoad = get(`${tid(id)}/messages`, { leaf: explicit ?? undefined, limit: PAGE });
  const head = await headLoad;
  let currentLeaf = head.thread.current_leaf_id;
  let leaf = explicit ?? currentLeaf;
  const following = explicit === null || explicit === currentLeaf;

  const bar = h("div", { class: "branch-bar" });
  const older = h("button", { type: "button", class: "older", hidden: true }, "Load older messages");
  const list = h("div", { class: "transcript" });
  const notice = h("p", { class: "notice", hidden: true, role: "status" });
  main.append(bar, older, list, notice);

  const paintBar = () => {
    const onCurrent = leaf === currentLeaf;
    fill(bar, 
      h("span", {}, leaf === null ? "No messages yet." : `Branch ending at #${leaf} `),
      leaf !== null ? (onCurrent ? tag("current branch", "current") : tag("not the current branch", "other")) : null,
      " ",
      !onCurrent && leaf !== null && currentLeaf !== null
        ? h("a", { href: threadLink(id, "/diff", `a=${currentLeaf}&b=${leaf}`) }, "Diff with the current branch")
        : null,
      " ",
      !onCurrent && !server.read_only && leaf !== null
        ? h("button", { type: "button", class: "make-current", onclick: () => switchTo(leaf) }, "Make this the current branch")
        : null,
      t.leaves.length ? ` ${t.leaves.length} branch${t.leaves.length === 1 ? "" : "es"} in all` : "",
    );
  };

  const switchTo = async (target) => {
    await post(`${tid(id)}/switch`, { message_id: target });
    location.hash = threadLink(id);
  };

  const switcher = (m) => {
    if (!t.nodes.has(m.id)) return h("span", { class: "switcher-slot" });
    const siblings = m.parent_entry_id !== null && t.nodes.has(m.parent_entry_id) ? t.nodes.get(m.parent_entry_id).children : t.roots;
    if (siblings.length < 2) return null;
    const at = siblings.indexOf(m.id);
    const goTo = (i) => (location.hash = threadLink(id, "", `leaf=${t.leafUnder(siblings[i])}`));
    return h(
      "span",
      { class: "switcher", role: "group", "aria-label": "Sibling branches" },
      h("button", { type: "button", class: "sibling-prev", disabled: at <= 0, "aria-label": "Previous branch", onclick: () => goTo(at - 1) }, "◀"),
      h("span", { class: "pos" }, `${at + 1}/${siblings.length}`),
      h("button", { type: "button", class: "sibling-next", disabled: at >= siblings.length - 1, "aria-label": "Next branch", onclick: () => goTo(at + 1) }, "▶"),
    );
  };

  const forkForm = (m) => {
    if (server.read_only) return null;
    const form = h(
      "form",
      {
        class: "fork-form",
        hidden: true,
        onsubmit: async (e) => {
          e.preventDefault();
          const data = new FormData(form);
          await post(`${tid(id)}/fork`, { message_id: m.id, role: data.get("role"), content: data.get("content") });
          location.hash = threadLink(id);
          window.dispatchEvent(new HashChangeEvent("hashchange"));
        },
      },
      h("textarea", { name: "content", required: true, rows: 3, placeholder: "New message under this one…", "aria-label": "Content of the new message" }),
      h("select", { name: "role", "aria-label": "Role" }, ["user", "assistant", "system", "tool"].map((r) => h("option", { value: r }, r))),
      h("button", { type: "submit" }, "Fork"),
    );
    return h(
      "div",
      { class: "fork" },
      h("button", { type: "button", class: "fork-open", onclick: () => form.toggleAttribute("hidden") }, "Fork here"),
      form,
    );
  };

  const card = (m) => messageCard(m, { current: m.id === currentLeaf, header: switcher(m), footer: forkForm(m) });
  let shown = [];

  const page = await pageLoad;
  shown = page.messages;
  list.append(...shown.map(card));
  if (!shown.length) list.append(h("p", { class: "empty" }, "No messages on this branch."));
  older.hidden = !page.branch.has_more;
  const loadOlder = async () => {
    const more = await get(`${tid(id)}/messages`, { leaf: leaf ?? undefined, before: shown[0].id, limit: PAGE });
    shown = [...more.messages, ...shown];
    list.prepend(...more.messages.map(card));
    older.hidden = !more.branch.has_more;
    return more.messages.length > 0;
  };
  older.addEventListener("click", loadOlder);
  paintBar();
  treeLoad.then((tree) => {
    Object.assign(t, tree);
    for (const m of shown) {
      const slot = list.querySelector(`#m${m.id} .switcher-slot`);
      const made = switcher(m);
      if (slot && made) slot.replaceWith(made);
      else slot?.remove();
    }
    paintBar();
  });

  if (msg !== null) {
    while (!list.querySelector(`#m${msg}`) && !older.hidden && (await loadOlder()));
    const target = list.querySelector(`#m${msg}`);
    if (target) {
      target.classList.add("focused");
      target.scrollIntoView({ block: "center" });
      target.focus();
    }
  }

  // Live: another process appended, forked or switched. Following the current
  // branch, new messages are appended in place; otherwise the page says so.
  const refresh = async () => {
    const fresh = await get(tid(id));
    const previous = currentLeaf;
    currentLeaf = fresh.thread.current_leaf_id;
    if (!following || currentLeaf === previous) return;
    const tail = await get(`${tid(id)}/messages`, { limit: PAGE });
    const last = shown.length ? shown[shown.length - 1].id : null;
    const at = last === null ? -1 : tail.messages.findIndex((m) => m.id === last);
    if (last !== null && at < 0) {
      fill(notice, "The current branch changed. ", h("a", { href: threadLink(id), onclick: () => window.dispatchEvent(new HashChangeEvent("hashchange")) }, "Show it"));
      notice.hidden = false;
      return;
    }
    const added = tail.messages.slice(at + 1);
    leaf = currentLeaf;
    const updated = await loadTree(id);
    Object.assign(t, updated);
    list.querySelector(".empty")?.remove();
    for (const old of list.querySelectorAll(".tag.current")) old.remove();
    list.querySelector(".msg.current")?.classList.remove("current");
    shown = [...shown, ...added];
    list.append(...added.map(card));
    added[added.length - 1]?.id && list.lastElementChild.scrollIntoView({ block: "nearest" });
    paintBar();
  };
  onLeave(listen({ thread: id }, { thread: refresh }));
}
