// Small DOM and formatting helpers. Every piece of data reaches the page
// through textContent: nothing from the server is ever parsed as HTML.

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
}

export const SCALE = 10000; // prices travel as integers of scale 4

export function price(v) {
  return (v / SCALE).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function money(v) {
  const x = v / SCALE;
  if (Math.abs(x) >= 1e9) return (x / 1e9).toFixed(2) + 'B';
  if (Math.abs(x) >= 1e6) return (x / 1e6).toFixed(2) + 'M';
  if (Math.abs(x) >= 1e3) return (x / 1e3).toFixed(1) + 'k';
  return x.toFixed(0);
}

export function count(n) {
  if (n === null || n === undefined || n < 0) return '—';
  if (n >= 1e9) return (n / 1e9).toFixed(2) + 'B';
  if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return Math.round(n).toLocaleString('en-US');
}

export function rate(n) {
  if (n === null || n === undefined) return '—';
  if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k/s';
  if (n >= 100) return Math.round(n) + '/s';
  return n.toFixed(1) + '/s';
}

export function ms(v) {
  if (v === null || v === undefined) return '—';
  if (v >= 10000) return (v / 1000).toFixed(1) + ' s';
  if (v >= 100) return Math.round(v) + ' ms';
  return v.toFixed(1) + ' ms';
}

export function pct(v) {
  return (v >= 0 ? '+' : '') + v.toFixed(2) + '%';
}

export function clock(tsMillis) {
  const d = new Date(tsMillis);
  return d.toISOString().slice(11, 19);
}

export function clockMs(tsMillis) {
  const d = new Date(tsMillis);
  return d.toISOString().slice(11, 23);
}

export class HTTPError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export async function getJSON(path, init) {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, ...init });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    const after = Number.parseInt(res.headers.get('Retry-After') || '', 10);
    throw new HTTPError(res.status, (body && body.error) || `${res.status} ${res.statusText}`, Number.isFinite(after) && after > 0 ? after : 0);
  }
  return body;
}

// retryDelay is how long to wait before asking again after a 503 (the
// database failing over or restarting): the server's Retry-After, doubled
// per attempt up to 10 s.
export function retryDelay(e, attempt) {
  const base = (e.retryAfter || 1) * 1000;
  return Math.min(base * 2 ** attempt, 10000);
}
