// Jobs: background jobs with live progress bars.
import { get, listen } from "../api.js";
import { ago, fill, h, oneLine, tag } from "../dom.js";
import { onLeave } from "../app.js";

function detail(job) {
  if (job.detail === null) return "";
  try {
    const data = JSON.parse(job.detail);
    if (data && typeof data === "object") return oneLine(String(data.detail || data.message || ""), 80);
  } catch {
    /* plain text */
  }
  return oneLine(job.detail, 80);
}

export async function jobsView(main) {
  main.append(h("h1", {}, "Jobs"));
  const table = h("table", { class: "jobs" });
  main.append(table);
  const paint = async () => {
    const { jobs } = await get("jobs", { limit: 200 });
    fill(table, 
      h("thead", {}, h("tr", {}, ["Name", "Status", "Progress", "Updated", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, jobs.length ? jobs.map((j) =>
        h("tr", { tabindex: "0", "data-nav": "", "data-id": j.id },
          h("td", {}, h("span", { class: "name" }, j.name), h("span", { class: "id" }, j.id)),
          h("td", {}, tag(j.status, `status-${j.status}`)),
          h("td", {}, j.progress === null ? "" : [h("progress", { max: 100, value: Math.min(j.progress, 100), "aria-label": `${j.name} progress` }), ` ${j.progress}%`]),
          h("td", {}, ago(j.updated_at)),
          h("td", {}, detail(j)))) : h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No jobs."))),
    );
  };
  await paint();
  onLeave(listen({}, { jobs: paint }));
}
