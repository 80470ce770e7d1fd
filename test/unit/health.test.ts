import { describe, expect, it } from 'vitest';
import { checkHealth } from '../../lib/volumes/health.js';

describe('health check', () => {
  it('reports each probe and degrades when one fails or hangs, within the timeout', async () => {
    const started = Date.now();
    const report = await checkHealth(
      [
        { name: 'fine', check: async () => {} },
        { name: 'broken', check: async () => Promise.reject(new Error('connection refused')) },
        { name: 'hung', check: () => new Promise<void>(() => {}) },
      ],
      100,
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(report.status).toBe('degraded');
    expect(report.services.fine?.status).toBe('ok');
    expect(report.services.broken).toMatchObject({ status: 'unavailable', error: 'Error: connection refused' });
    expect(report.services.hung?.error).toMatch(/no answer within 100 ms/);
  });

  it('is ok when every probe answers', async () => {
    const report = await checkHealth([{ name: 'a', check: async () => {} }]);
    expect(report.status).toBe('ok');
  });
});
