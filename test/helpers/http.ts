// HTTP helpers for the metrics/admin tests: JSON calls against a node's --http listener, and a
// /metrics scrape parsed with a real text-format parser.
import parsePrometheusTextFormat, { type PromFamily } from 'parse-prometheus-text-format';

export interface JsonAnswer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export async function httpJson<T = unknown>(base: string, path: string, init: { method?: string; token?: string } = {}): Promise<JsonAnswer<T>> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: init.token === undefined ? {} : { Authorization: `Bearer ${init.token}` },
  });
  const text = await res.text();
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    throw new Error(`${init.method ?? 'GET'} ${path}: status ${res.status}, not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body, headers: res.headers };
}

export interface Scrape {
  families: Map<string, PromFamily>;
  /** The value of `name` with exactly these labels (all of the sample's labels), or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over every sample of `name` whose labels include `labels`. */
  sum(name: string, labels?: Record<string, string>): number;
}

export async function scrape(base: string, token?: string): Promise<Scrape> {
  const res = await fetch(`${base}/metrics`, { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  const families = new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));
  const matches = (have: Record<string, string> | undefined, want: Record<string, string>, exact: boolean): boolean => {
    const h = have ?? {};
    if (exact && Object.keys(h).length !== Object.keys(want).length) return false;
    return Object.entries(want).every(([k, v]) => h[k] === v);
  };
  return {
    families,
    value(name, labels = {}) {
      const s = families.get(name)?.metrics.find((m) => matches(m.labels, labels, true));
      return s?.value === undefined ? undefined : Number(s.value);
    },
    sum(name, labels = {}) {
      let total = 0;
      for (const m of families.get(name)?.metrics ?? []) if (matches(m.labels, labels, false) && m.value !== undefined) total += Number(m.value);
      return total;
    },
  };
}

/** Polls `check` until it returns true, or fails after `ms` with `what`. For state read over HTTP,
 * which has no event to wait for; each poll waits for the previous answer, no fixed sleep decides. */
export async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
