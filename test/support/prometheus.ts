/** A /metrics scrape over real HTTP, parsed by a Prometheus text-format parser (parse-prometheus-text-format, which refuses a malformed line). */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Scrape {
  text: string;
  families: ReturnType<typeof parsePrometheusTextFormat>;
}

export async function scrape(baseUrl: string, token?: string): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}: ${text.slice(0, 200)}`);
  if (!/^text\/plain; version=0\.0\.4/.test(res.headers.get('content-type') ?? '')) throw new Error(`not the text format: ${res.headers.get('content-type')}`);
  return { text, families: parsePrometheusTextFormat(text) };
}

export function family(s: Scrape, name: string) {
  return s.families.find((f) => f.name === name);
}

/** The samples of `name` whose labels include `labels`. */
export function samples(s: Scrape, name: string, labels: Record<string, string> = {}) {
  return (family(s, name)?.metrics ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

/** The sum of the values of `name` whose labels include `labels` (0 when there is none). */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(s, name, labels).reduce((sum, m) => sum + Number(m.value), 0);
}

/**
 * A histogram's observation count over the series whose labels include `labels`, from its `_count` lines:
 * the parser folds the series of a histogram into one and drops their labels (it only knows unlabelled
 * histograms), so these lines are read here, after it accepted the whole text.
 */
export function observations(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of s.text.split('\n')) {
    const m = new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[2]);
  }
  return sum;
}

/** Every label value of the scrape. */
export function labelValues(s: Scrape): string[] {
  return s.families.flatMap((f) => f.metrics.flatMap((m) => Object.values(m.labels ?? {})));
}
