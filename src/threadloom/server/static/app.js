// The viewer: a hash router over views; every view reads only the JSON API.
import { ApiError, get } from "./api.js";
import { clear, h } from "./dom.js";
import { sessionsView, searchView } from "./views/sessions.js";
import { conversationView } from "./views/conversation.js";
import { treeView } from "./views/tree.js";
import { diffView } from "./views/diff.js";
import { checkpointsView, goalView, toolsView } from "./views/state.js";
import { jobsView } from "./views/jobs.js";
import { runsView, runView } from "./views/workflows.js";

const main = document.getElementById("view");
export const server = { read_only: true };
let cleanup = [];

export function onLeave(fn) {
  cleanup.push(fn);
}

function parse() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = hash.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search) };
}

const ROUTES = [
  [[], sessionsView],
  [["search"], searchView],
  [["jobs"], jobsView],
  [["workflows"], runsView],
  [["workflows", "*"], runView],
  [["t", "*"], conversationView],
  [["t", "*", "tree"], treeView],
  [["t", "*", "diff"], diffView],
  [["t", "*", "checkpoints"], checkpointsView],
  [["t", "*", "goal"], goalView],
  [["t", "*", "tools"], toolsView],
];

async function route() {
  for (const fn of cleanup) fn();
  cleanup = [];
  const { parts, params } = parse();
  const found = ROUTES.find(([p]) => p.length === parts.length && p.every((x, i) => x === "*" || x === parts[i]));
  const args = found ? parts.filter((_, i) => found[0][i] === "*") : [];
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.section === (parts[0] || "sessions")));
  clear(main);
  main.setAttribute("aria-busy", "true");
  try {
    if (!found) throw new ApiError(404, "no such page");
    await found[1](main, ...args, params);
  } catch (err) {
    clear(main);
    main.append(h("div", { class: "error", role: "alert" }, h("strong", {}, "Error: "), err.message));
  } finally {
    main.removeAttribute("aria-busy");
  }
}

// -- theme ------------------------------------------------------------------------
function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("threadloom-theme", theme);
  document.getElementById("theme").textContent = theme === "dark" ? "☀ Light" : "☾ Dark";
}

function initialTheme() {
  const saved = localStorage.getItem("threadloom-theme");
  if (saved === "dark" || saved === "light") return saved;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

// -- keyboard ---------------------------------------------------------------------
// j/k move between items, Enter opens, / searches, g s/j/w go to a section,
// t/c/d/p/o/l switch tabs of a session, [ and ] switch sibling branches, ? helps.
let pendingG = false;
function focusables() {
  return [...main.querySelectorAll("[data-nav]")];
}

function move(step) {
  const items = focusables();
  if (!items.length) return;
  const at = items.indexOf(document.activeElement.closest("[data-nav]"));
  const next = items[Math.max(0, Math.min(items.length - 1, at < 0 ? 0 : at + step))];
  next.focus();
  next.scrollIntoView({ block: "nearest" });
}

function tab(name) {
  const link = main.querySelector(`.tabs a[data-tab="${name}"]`);
  if (link) location.hash = link.getAttribute("href");
}

document.addEventListener("keydown", (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const typing = e.target.closest("input, textarea, select");
  if (typing) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  if (pendingG) {
    pendingG = false;
    const go = { s: "#/", j: "#/jobs", w: "#/workflows" }[e.key];
    if (go) location.hash = go;
    return;
  }
  const actions = {
    j: () => move(1),
    k: () => move(-1),
    "/": () => document.getElementById("search").focus(),
    g: () => (pendingG = true),
    c: () => tab("conversation"),
    t: () => tab("tree"),
    p: () => tab("checkpoints"),
    o: () => tab("goal"),
    l: () => tab("tools"),
    "[": () => document.activeElement.closest("[data-nav]")?.querySelector(".sibling-prev")?.click(),
    "]": () => document.activeElement.closest("[data-nav]")?.querySelector(".sibling-next")?.click(),
    "?": () => document.getElementById("help").toggleAttribute("hidden"),
    Escape: () => document.getElementById("help").setAttribute("hidden", ""),
  };
  const action = actions[e.key];
  if (action) {
    e.preventDefault();
    action();
  } else if (e.key === "Enter" && e.target.matches("[data-nav]") && e.target.dataset.href) {
    location.hash = e.target.dataset.href;
  }
});

document.getElementById("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = document.getElementById("search").value.trim();
  if (q) location.hash = `#/search?q=${encodeURIComponent(q)}`;
});
document.getElementById("theme").addEventListener("click", () => {
  setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
});

setTheme(initialTheme());
Object.assign(server, await get("").catch(() => ({ read_only: true })));
document.body.classList.toggle("writable", !server.read_only);
document.getElementById("mode").textContent = server.read_only ? "read-only" : "read-write";
window.addEventListener("hashchange", route);
route();
