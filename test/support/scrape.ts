// Scrapes /metrics over HTTP and reads the exposition with an independent parser (parse-prometheus-text-format).
import parsePrometheusTextFormat, {
  type MetricFamily,
  type Sample,
} from 'parse-prometheus-text-format';

/**
 * `families` as parsed; `series` the same text parsed with histogram types dropped, so each
 * `_bucket`, `_sum` and `_count` series is its own family with its labels: the parser (1.1.1)
 * folds a histogram's samples into one and loses their labels (it only knows unlabelled ones).
 */
export type Scrape = { text: string; families: MetricFamily[]; series: MetricFamily[] };

/** GET <url> with the bearer token; throws unless 200 with Prometheus' text format. */
export async function scrape(url: string, token?: string): Promise<Scrape> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  if (res.status !== 200) throw new Error(`scrape ${url}: HTTP ${res.status} ${text}`);
  if (!(res.headers.get('content-type') ?? '').startsWith('text/plain')) {
    throw new Error(`scrape ${url}: content-type ${res.headers.get('content-type')}`);
  }
  return parseExposition(text);
}

export function parseExposition(text: string): Scrape {
  const untyped = text
    .split('\n')
    .filter((line) => !/^# TYPE \S+ histogram$/.test(line))
    .join('\n');
  return {
    text,
    families: parsePrometheusTextFormat(text),
    series: mergeByName(parsePrometheusTextFormat(untyped)),
  };
}

/** Untyped, a histogram's series alternate (sync's bucket, sum, count, then drain's …): rejoin them. */
function mergeByName(families: MetricFamily[]): MetricFamily[] {
  const byName = new Map<string, MetricFamily>();
  for (const f of families) {
    const seen = byName.get(f.name);
    if (seen) seen.metrics.push(...f.metrics);
    else byName.set(f.name, { ...f, metrics: [...f.metrics] });
  }
  return [...byName.values()];
}

/** A metric family by name (a histogram's `_count`, `_sum`, `_bucket` series by theirs). */
export function family(scraped: Scrape, name: string): MetricFamily | undefined {
  return (
    scraped.families.find((f) => f.name === name && f.type !== 'HISTOGRAM') ??
    scraped.series.find((f) => f.name === name)
  );
}

/** The samples of `name` whose labels include every one of `labels`. */
function matching(scraped: Scrape, name: string, labels: Record<string, string>): Sample[] {
  return (family(scraped, name)?.metrics ?? []).filter((sample) =>
    Object.entries(labels).every(([key, value]) => (sample.labels ?? {})[key] === value),
  );
}

/** The value of the one sample with exactly these labels (undefined when there is none). */
export function value(
  scraped: Scrape,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const samples = (family(scraped, name)?.metrics ?? []).filter((sample) => {
    const own = sample.labels ?? {};
    return (
      Object.keys(own).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, v]) => own[key] === v)
    );
  });
  if (samples.length > 1) throw new Error(`${name}: ${samples.length} samples match`);
  return samples[0]?.value === undefined ? undefined : sampleValue(samples[0].value);
}

/** A sample's value as the text format writes it (+Inf, -Inf and NaN included). */
function sampleValue(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** The sum of the values of every sample whose labels include `labels`. */
export function total(scraped: Scrape, name: string, labels: Record<string, string> = {}): number {
  return matching(scraped, name, labels).reduce((sum, s) => sum + Number(s.value ?? 0), 0);
}

/** A histogram's count, sum and buckets for exactly these labels (zeros when absent). */
export function histogram(
  scraped: Scrape,
  name: string,
  labels: Record<string, string> = {},
): { count: number; sum: number; buckets: Record<string, number> } {
  const buckets = (family(scraped, `${name}_bucket`)?.metrics ?? []).filter((sample) => {
    const { le, ...own } = sample.labels ?? {};
    return (
      le !== undefined &&
      Object.keys(own).length === Object.keys(labels).length &&
      Object.entries(labels).every(([key, v]) => own[key] === v)
    );
  });
  return {
    count: value(scraped, `${name}_count`, labels) ?? 0,
    sum: value(scraped, `${name}_sum`, labels) ?? 0,
    buckets: Object.fromEntries(
      buckets.map((sample) => [sample.labels?.le ?? '', Number(sample.value)]),
    ),
  };
}
