/**
 * Reads the Prometheus text exposition format (version 0.0.4) that GET /metrics serves, and
 * summarizes counters, gauges and histograms the way PromQL would (histogram_quantile's
 * linear interpolation within a bucket). Pure functions: tested in test/unit/console-prometheus.test.ts.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly help: string;
  readonly samples: Sample[];
}

export type Metrics = ReadonlyMap<string, Family>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES = ['_bucket', '_sum', '_count'];

function parseValue(text: string, line: number): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const value = Number(text);
  if (text === '' || Number.isNaN(value)) throw new Error(`metrics line ${line}: "${text}" is not a number`);
  return value;
}

/** `{a="x",b="y\"z"}` from `at` (on the `{`); returns the labels and where they end. */
function parseLabels(text: string, at: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = NAME.exec(text.slice(i))?.[0];
    if (!name || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"') throw new Error(`metrics line ${line}: a label is not name="value"`);
    i += name.length + 2;
    let value = '';
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        const next = text[++i];
        value += next === 'n' ? '\n' : (next ?? '');
      } else value += text[i];
    }
    if (i >= text.length) throw new Error(`metrics line ${line}: a label value is not closed`);
    labels[name] = value;
    i++;
  }
}

/** The family a sample belongs to: its own name, or a histogram's or summary's without the suffix. */
function familyOf(name: string, families: Map<string, Family>): string {
  if (families.has(name)) return name;
  const suffix = SUFFIXES.find((s) => name.endsWith(s));
  const base = suffix ? name.slice(0, -suffix.length) : name;
  return families.has(base) ? base : name;
}

/** Parses the whole text; throws an Error naming the line of anything that is not the format. */
export function parsePrometheus(text: string): Metrics {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let found = families.get(name);
    if (!found) families.set(name, (found = { name, type: 'untyped', help: '', samples: [] }));
    return found;
  };
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const text = raw.trim();
    if (text === '') return;
    if (text.startsWith('#')) {
      const [, keyword, name, ...rest] = text.split(/\s+/);
      if (keyword === 'HELP' && name) families.set(name, { ...family(name), help: rest.join(' ') });
      else if (keyword === 'TYPE' && name) {
        const type = rest[0] ?? '';
        if (!TYPES.has(type)) throw new Error(`metrics line ${line}: unknown type "${type}"`);
        families.set(name, { ...family(name), type: type as Family['type'] });
      }
      return;
    }
    const name = NAME.exec(text)?.[0];
    if (!name) throw new Error(`metrics line ${line}: no metric name`);
    let at = name.length;
    let labels: Record<string, string> = {};
    if (text[at] === '{') ({ labels, end: at } = parseLabels(text, at, line));
    const [value] = text.slice(at).trim().split(/\s+/);
    family(familyOf(name, families)).samples.push({ name, labels, value: parseValue(value ?? '', line) });
  });
  return families;
}

/** The sum of a family's samples named `name` (its own name by default): a counter's total across labels. */
export function total(metrics: Metrics, family: string, name = family): number | undefined {
  const samples = metrics.get(family)?.samples.filter((s) => s.name === name);
  return samples && samples.length > 0 ? samples.reduce((sum, s) => sum + s.value, 0) : undefined;
}

/** The largest value of a gauge across its series, and how many series it has. */
export function largest(metrics: Metrics, family: string): { value: number; series: number } | undefined {
  const samples = metrics.get(family)?.samples ?? [];
  return samples.length > 0 ? { value: Math.max(...samples.map((s) => s.value)), series: samples.length } : undefined;
}

export interface HistogramSummary {
  readonly count: number;
  readonly sum: number;
  /** sum / count; undefined with no observations. */
  readonly mean?: number;
  readonly quantile: (q: number) => number | undefined;
}

/** A histogram's count, sum, mean and quantiles (cumulative `le` buckets, as Prometheus keeps them). */
export function histogram(metrics: Metrics, family: string): HistogramSummary | undefined {
  const samples = metrics.get(family)?.samples;
  if (!samples) return undefined;
  const count = total(metrics, family, `${family}_count`) ?? 0;
  const sum = total(metrics, family, `${family}_sum`) ?? 0;
  const buckets = samples
    .filter((s) => s.name === `${family}_bucket` && s.labels.le !== undefined)
    .map((s) => ({ le: parseValue(s.labels.le as string, 0), count: s.value }))
    .sort((a, b) => a.le - b.le);
  const quantile = (q: number): number | undefined => {
    const all = buckets.at(-1)?.count ?? 0;
    if (all === 0) return undefined;
    const rank = q * all;
    let lower = 0;
    let below = 0;
    for (const bucket of buckets) {
      if (bucket.count >= rank) {
        // In the +Inf bucket the best estimate is the largest finite bound.
        if (bucket.le === Infinity) return lower;
        const inBucket = bucket.count - below;
        return inBucket > 0 ? lower + ((bucket.le - lower) * (rank - below)) / inBucket : bucket.le;
      }
      lower = bucket.le;
      below = bucket.count;
    }
    return lower;
  };
  return { count, sum, ...(count > 0 ? { mean: sum / count } : {}), quantile };
}
