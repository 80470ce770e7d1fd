import type { HealthProbe } from './ports.js';

export interface ServiceHealth {
  readonly status: 'ok' | 'unavailable';
  readonly latencyMs: number;
  readonly error?: string;
}

export interface HealthReport {
  readonly status: 'ok' | 'degraded';
  readonly services: Record<string, ServiceHealth>;
  readonly checkedAt: string;
}

export const HEALTH_TIMEOUT_MS = 2000;

/** Runs every probe in parallel, each bounded by a timeout, so a hung backend cannot hang the check. */
export async function checkHealth(probes: readonly HealthProbe[], timeoutMs = HEALTH_TIMEOUT_MS): Promise<HealthReport> {
  const entries = await Promise.all(
    probes.map(async (probe): Promise<[string, ServiceHealth]> => {
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          probe.check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [probe.name, { status: 'ok', latencyMs: Math.round(performance.now() - started) }];
      } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        return [probe.name, { status: 'unavailable', latencyMs: Math.round(performance.now() - started), error: message }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const services = Object.fromEntries(entries);
  const status = entries.every(([, health]) => health.status === 'ok') ? 'ok' : 'degraded';
  return { status, services, checkedAt: new Date().toISOString() };
}
