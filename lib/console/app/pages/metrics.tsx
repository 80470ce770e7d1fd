import { useRef } from 'preact/hooks';
import { api } from '../api';
import { ErrorNote, Page } from '../components';
import { bytes } from '../format';
import { useLoad } from '../hooks';
import { histogram, largest, parsePrometheus, total, type Metrics } from '../prometheus';

const POLL_MS = 2000;

interface Reading {
  readonly metrics: Metrics;
  readonly at: number;
}

/** Milliseconds, to the precision a person reads: "0.42 ms", "12 ms", "1.3 s". */
function millis(seconds: number | undefined): string {
  if (seconds === undefined) return '—';
  const ms = seconds * 1000;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

const count = (value: number | undefined) => (value === undefined ? '—' : String(Math.round(value)));

/** One figure: a label, the value (data-metric names it for tests and scripts), a detail line. */
function Figure({ id, label, value, detail }: { id: string; label: string; value: string; detail?: string }) {
  return (
    <div class="figure" data-metric={id}>
      <dt>{label}</dt>
      <dd>
        <span class="figure-value" data-value>
          {value}
        </span>
        {detail ? <span class="muted figure-detail">{detail}</span> : null}
      </dd>
    </div>
  );
}

/** Per second between two readings of a counter; undefined on the first. */
function rate(now: Reading, before: Reading | undefined, family: string): number | undefined {
  if (!before) return undefined;
  const seconds = (now.at - before.at) / 1000;
  const a = total(before.metrics, family);
  const b = total(now.metrics, family);
  return seconds > 0 && a !== undefined && b !== undefined ? Math.max(0, b - a) / seconds : undefined;
}

const perSecond = (value: number | undefined, unit: string) => (value === undefined ? 'rate after the next reading' : `${value.toFixed(1)} ${unit}/s now`);

/** The embedded cloud's GET /metrics, read every two seconds: writes, reads, groups, flush lag, rebuilds, copies. */
export function MetricsPage() {
  const previous = useRef<Reading | undefined>(undefined);
  const current = useRef<Reading | undefined>(undefined);
  const reading = useLoad(
    'metrics',
    async (): Promise<{ now: Reading; before?: Reading }> => {
      const now = { metrics: parsePrometheus(await api.metrics()), at: Date.now() };
      previous.current = current.current;
      current.current = now;
      return { now, ...(previous.current ? { before: previous.current } : {}) };
    },
    { intervalMs: POLL_MS },
  );
  const data = reading.data;
  const m = data?.now.metrics;
  const write = m && histogram(m, 'sleds_write_latency_seconds');
  const read = m && histogram(m, 'sleds_read_latency_seconds');
  const group = m && histogram(m, 'sleds_group_size');
  const rebuild = m && histogram(m, 'sleds_rebuild_seconds');
  const lag = m && largest(m, 'sleds_flush_lag_ops');
  return (
    <Page title="Metrics">
      <p class="muted">
        The process's own figures from <code>GET /metrics</code> (Prometheus text), read every {POLL_MS / 1000} s. A deployed stack has no such route: its
        figures go to CloudWatch, on the Sleds dashboard.
      </p>
      <ErrorNote error={reading.error} title="Could not read the metrics" />
      {m && data ? (
        <>
          <h2>Writes</h2>
          <dl class="figures">
            <Figure id="write-ops" label="Ops committed" value={count(total(m, 'sleds_write_ops_total'))} detail={perSecond(rate(data.now, data.before, 'sleds_write_ops_total'), 'ops')} />
            <Figure id="write-bytes" label="Bytes written" value={bytes(total(m, 'sleds_write_bytes_total') ?? 0)} />
            <Figure id="write-latency" label="Write latency, mean" value={millis(write?.mean)} detail={`p50 ${millis(write?.quantile(0.5))}, p99 ${millis(write?.quantile(0.99))}`} />
            <Figure id="group-size" label="Writes per op, mean" value={group?.mean === undefined ? '—' : group.mean.toFixed(2)} detail={`largest group ≤ ${count(group?.quantile(1))}`} />
          </dl>
          <h2>Reads</h2>
          <dl class="figures">
            <Figure id="read-ops" label="Reads served" value={count(total(m, 'sleds_read_ops_total'))} detail={perSecond(rate(data.now, data.before, 'sleds_read_ops_total'), 'reads')} />
            <Figure id="read-bytes" label="Bytes read" value={bytes(total(m, 'sleds_read_bytes_total') ?? 0)} />
            <Figure id="read-latency" label="Read latency, mean" value={millis(read?.mean)} detail={`p50 ${millis(read?.quantile(0.5))}, p99 ${millis(read?.quantile(0.99))}`} />
          </dl>
          <h2>Flushes and rebuilds</h2>
          <dl class="figures">
            <Figure id="flushes" label="Flushes" value={count(total(m, 'sleds_flushes_total'))} />
            <Figure id="flush-lag" label="Flush lag, largest" value={lag ? `${lag.value} ops` : '—'} detail={lag ? `over ${lag.series} partitions flushed` : 'no flush yet'} />
            <Figure id="rebuilds" label="Replicas rebuilt" value={count(rebuild?.count)} detail={`mean ${millis(rebuild?.mean)}`} />
          </dl>
          <h2>Copy jobs</h2>
          <dl class="figures">
            <Figure id="copy-bytes" label="Bytes copied" value={bytes(total(m, 'sleds_copy_bytes_total') ?? 0)} detail={`${count(total(m, 'sleds_copy_batches_total'))} batches`} />
            <Figure id="copy-throughput" label="Copy throughput, latest batch" value={`${bytes(total(m, 'sleds_copy_throughput_bytes_per_second') ?? 0)}/s`} />
          </dl>
        </>
      ) : null}
    </Page>
  );
}
