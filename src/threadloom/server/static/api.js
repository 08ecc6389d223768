// The viewer's only way to the data: the JSON API under /api/ (same origin).

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

export async function get(path, params) {
  const response = await fetch(`/api/${path}${query(params)}`, {
    credentials: "same-origin",
    headers: { accept: "application/json" },
  });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new ApiError(response.status, body.error || response.statusText);
  return body;
}

export async function post(path, body) {
  const response = await fetch(`/api/${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new ApiError(response.status, answer.error || response.statusText);
  return answer;
}

export const tid = (id) => `threads/${encodeURIComponent(id)}`;

// Live updates: server-sent events; handlers by event name. Returns a closer.
export function listen(params, handlers) {
  const source = new EventSource(`/api/events${query(params)}`);
  for (const [name, fn] of Object.entries(handlers)) source.addEventListener(name, fn);
  return () => source.close();
}
