// Session state: checkpoints (a collapsible JSON view), goal (budget gauge), dynamic tools.
import { get, listen, tid } from "../api.js";
import { ago, h, jsonTree, tag, when } from "../dom.js";
import { onLeave } from "../app.js";
import { threadHeader, threadLink } from "./common.js";

export async function checkpointsView(main, id, params) {
  await threadHeader(main, id, "checkpoints");
  const doc = await get(`${tid(id)}/checkpoints`, { limit: 200 });
  if (!doc.checkpoints.length) {
    main.append(h("p", { class: "empty" }, "No checkpoints."));
    return;
  }
  const chosen = params.get("id") ?? doc.checkpoints[0].checkpoint_id;
  const list = h("ul", { class: "checkpoints" },
    doc.checkpoints.map((c, i) =>
      h("li", {}, h("a", { href: threadLink(id, "/checkpoints", `id=${encodeURIComponent(c.checkpoint_id)}`), "data-nav": "", class: c.checkpoint_id === chosen ? "active" : "" }, c.checkpoint_id),
        i === 0 ? tag("latest", "current") : null, " ", h("time", { title: when(c.created_at) }, ago(c.created_at)))));
  const one = await get(`${tid(id)}/checkpoints/${encodeURIComponent(chosen)}`);
  main.append(h("div", { class: "split" }, list, h("section", { class: "json-view", "aria-label": `Checkpoint ${chosen}` }, h("h2", {}, one.checkpoint_id), jsonTree(one.state, 2))));
}

export async function goalView(main, id) {
  await threadHeader(main, id, "goal");
  const box = h("section", { class: "goal" });
  main.append(box);
  const paint = async () => {
    const { goal } = await get(`${tid(id)}/goal`);
    box.replaceChildren();
    if (!goal) {
      box.append(h("p", { class: "empty" }, "This session has no goal."));
      return;
    }
    const budget = goal.token_budget;
    const pct = budget ? Math.floor((goal.tokens_used * 100) / budget) : null;
    box.append(
      h("h2", {}, goal.objective),
      h("p", {}, tag(goal.status, `status-${goal.status}`)),
      budget
        ? h("div", { class: "gauge" },
            h("meter", { min: 0, max: budget, low: budget * 0.75, high: budget * 0.9, optimum: 0, value: Math.min(goal.tokens_used, budget), "aria-label": "Tokens used of budget" }),
            h("span", {}, `${goal.tokens_used.toLocaleString()} / ${budget.toLocaleString()} tokens (${pct}%)`))
        : h("p", {}, `${goal.tokens_used.toLocaleString()} tokens (no budget)`),
      h("dl", { class: "facts" },
        h("dt", {}, "Continuations"), h("dd", { class: "continuations" }, String(goal.continuation_count)),
        h("dt", {}, "Time"), h("dd", {}, `${Math.floor(goal.time_used_seconds / 60)}m ${String(goal.time_used_seconds % 60).padStart(2, "0")}s`),
        h("dt", {}, "Updated"), h("dd", {}, ago(goal.updated_at)),
        h("dt", {}, "Goal id"), h("dd", {}, goal.goal_id)),
    );
  };
  await paint();
  onLeave(listen({ thread: id }, { goal: paint }));
}

export async function toolsView(main, id) {
  await threadHeader(main, id, "tools");
  const doc = await get(`${tid(id)}/tools`);
  if (!doc.tools.length) {
    main.append(h("p", { class: "empty" }, "No dynamic tools."));
    return;
  }
  main.append(
    h("div", { class: "tools" }, doc.tools.map((tool) =>
      h("article", { class: "tool", tabindex: "0", "data-nav": "" },
        h("h2", {}, h("span", { class: "num" }, `${tool.position}. `), tool.name),
        tool.description ? h("p", {}, tool.description) : null,
        h("details", {}, h("summary", {}, "Input schema"), jsonTree(tool.input_schema, 3))))),
  );
}
