/**
 * The web console, end to end: the embedded cloud, the console's server and a headless
 * Chromium (Debian's `chromium` package, driven by playwright-core; no browser download).
 * It clicks through every page, checks what each shows, watches a copy job's fan-out tree fill
 * in, and saves the screenshots in docs/console/.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startConsoleServer, type ConsoleServer } from '../../lib/console/server.js';
import { armFailpoint } from '../../lib/faults.js';
import { eventually } from '../support/copy-jobs.js';
import { call } from '../support/http.js';
import { useLocalCloud } from '../support/local-cloud.js';
import { pattern } from '../support/write-path.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = fileURLToPath(new URL('../../docs/console/', import.meta.url));
const KIB = 1024;
/** 4 partitions of 4 chunks of 64 KiB. */
const GEOMETRY = { sizeBytes: 1024 * KIB, chunkSizeBytes: 64 * KIB, partitionChunks: 4, name: 'db' };
/** Sled links of 128 KiB/s: a chunk copy takes at least half a second, so the job is slow enough to watch. */
const SLED_BANDWIDTH = 128 * KIB;
const COPIES = 8;
const FANOUT = 2;

const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
const skipReason = `the console's browser tests need ${CHROMIUM} (Debian package \`chromium\`: apt-get install -y chromium)`;

if (!haveChromium && inCi) {
  // In CI a missing browser is a broken image, not a reason to skip.
  describe('web console in headless Chromium', () => {
    it('has Chromium', () => {
      throw new Error(`${CHROMIUM} is missing: install the Debian package \`chromium\` (apt-get install -y --no-install-recommends chromium).`);
    });
  });
} else if (!haveChromium) {
  describe.skip(`web console in headless Chromium (skipped: ${skipReason})`, () => {
    it('clicks through the console', () => undefined);
  });
} else {
  describe('web console in headless Chromium', () => {
    const cloud = useLocalCloud({ sledCount: 8, sledBandwidth: SLED_BANDWIDTH, retryIntervalMs: 0 });
    let server: ConsoleServer;
    let browser: Browser;
    let page: Page;
    const proxied: string[] = [];
    const disarm: Array<() => void> = [];
    let volumeId: string;
    let snapshotId: string;

    beforeAll(async () => {
      const { apiUrl } = cloud();
      server = await startConsoleServer({
        apiBaseUrl: apiUrl,
        transport: (input, init) => {
          proxied.push(String(input));
          return fetch(input, init);
        },
      });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      page = await browser.newPage({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
      await mkdir(SHOTS, { recursive: true });
      const created = await call(apiUrl, 'POST', '/volumes', GEOMETRY);
      expect(created.status).toBe(201);
      volumeId = created.body.volumeId;
      const written = await call(apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=0`, pattern(GEOMETRY.sizeBytes, 7), {
        'content-type': 'application/octet-stream',
      });
      expect(written.status).toBe(200);
    }, 120_000);

    afterEach(() => disarm.splice(0).forEach((d) => d()));

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    /** Reads the tree's node count and chunks in place from the drawn SVG. */
    const treeCounts = () =>
      page.locator('svg.fanout-tree').evaluate((svg) => ({
        nodes: svg.querySelectorAll('g.node').length,
        targets: svg.querySelectorAll('g.node-target').length,
        intermediaries: svg.querySelectorAll('g.node-intermediary').length,
        snapshots: svg.querySelectorAll('g.node-snapshot').length,
        chunksDone: Number(svg.getAttribute('data-chunks-done')),
        // What is to be copied: every node but the snapshot, the source.
        chunks: [...svg.querySelectorAll('g.node:not(.node-snapshot)')].reduce((sum, g) => sum + Number(g.getAttribute('data-chunks')), 0),
      }));

    it('lists the volume with its size and state', async () => {
      await page.goto(`${server.url}/#/volumes`);
      const row = page.locator(`tr[data-volume-id="${volumeId}"]`);
      await row.waitFor();
      expect(await row.locator('[data-col="size"]').textContent()).toBe('1 MiB');
      expect(await row.locator('[data-col="state"]').textContent()).toBe('available');
      expect(await row.textContent()).toContain('db');
      // Written whole before the test: the allocation map says every byte holds data.
      const allocated = row.locator('[data-col="allocated"]');
      await page.waitForFunction((cell) => cell?.getAttribute('data-bytes') !== null, await allocated.elementHandle());
      expect(await allocated.getAttribute('data-bytes')).toBe(String(GEOMETRY.sizeBytes));
      expect(await allocated.textContent()).toBe('1 MiB');
      expect(await row.locator('[data-col="hydration"]').textContent()).toBe('not a copy');
      expect(await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Volumes' }).getAttribute('aria-current')).toBe('page');
      // Every request went through the injected transport to the API.
      expect(proxied.length).toBeGreaterThan(0);
      expect(proxied.every((url) => url.startsWith(cloud().apiUrl))).toBe(true);
    });

    it('shows the volume’s partitions with both replicas', async () => {
      await page.getByRole('link', { name: volumeId }).click();
      await page.getByRole('heading', { name: `Volume ${volumeId}` }).waitFor();
      await page.locator('article.partition').nth(3).waitFor();
      expect(await page.locator('article.partition').count()).toBe(4);
      const first = page.locator('article.partition[data-partition="0"]');
      for (const role of ['primary', 'secondary']) {
        const replica = first.locator(`tr[data-role="${role}"]`);
        expect(Number(await replica.locator('[data-col="ops"]').textContent())).toBeGreaterThanOrEqual(1);
        expect(Number(await replica.locator('[data-col="epoch"]').textContent())).toBeGreaterThanOrEqual(0);
      }
      expect(await first.textContent()).toContain('Flushed op');
      expect(await first.textContent()).toContain('Newest checkpoint');
      expect(await first.textContent()).toContain('in sync');
      await page.screenshot({ path: `${SHOTS}volume.png`, fullPage: true });
    });

    it('takes a snapshot and lists it once it is completed', async () => {
      await page.getByRole('button', { name: 'Take a snapshot' }).click();
      await page.waitForURL(/#\/snapshots\/snap-/);
      snapshotId = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '');
      await page.locator('.badge-completed').first().waitFor({ timeout: 30_000 });
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Snapshots' }).click();
      const row = page.locator(`tr[data-snapshot-id="${snapshotId}"]`);
      await row.waitFor();
      expect(await row.locator('[data-col="state"]').textContent()).toBe('completed');
      expect(await row.textContent()).toContain(volumeId);
      expect(await row.textContent()).toContain('4/4 partitions');
      await page.screenshot({ path: `${SHOTS}snapshots.png` });
    });

    it('draws a copy job’s fan-out tree and fills it in while the job runs', async () => {
      await page.getByRole('link', { name: snapshotId }).click();
      const form = page.getByRole('form', { name: 'Copy the snapshot into new volumes' });
      await form.getByLabel('Copies').fill(String(COPIES));
      await form.getByLabel('Max source fan-out').fill(String(FANOUT));
      await form.getByLabel('Mode').selectOption('pipelined');
      await form.getByRole('button', { name: 'Start copy job' }).click();
      await page.waitForURL(/#\/copy-jobs\/copy-/);
      const jobId = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '');
      await page.locator('svg.fanout-tree g.node').first().waitFor({ timeout: 30_000 });

      // The drawing is partition 0's tree as the plan has it: the snapshot, intermediaries, all 8 targets.
      const planned = (await call(cloud().apiUrl, 'GET', `/copy-jobs/${jobId}?include=tree`)).body.tree.nodes.filter(
        (node: any) => node.partition === 0,
      );
      const first = await treeCounts();
      expect(first.nodes).toBe(planned.length);
      expect(first.snapshots).toBe(1);
      expect(first.targets).toBe(COPIES);
      expect(first.intermediaries).toBe(planned.filter((node: any) => node.kind === 'intermediary').length);
      expect(first.intermediaries).toBeGreaterThan(0);
      // A pipelined tree of 8 targets with F = 2 has levels 0..3.
      expect(await page.locator('svg.fanout-tree .level-label').allTextContents()).toEqual(['source', 'level 1', 'level 2', 'level 3']);
      expect(first.chunksDone).toBeLessThan(first.chunks);

      // Chunks in place grow between two observations while the job runs.
      const later = await eventually(
        'more chunks in place in the drawn tree',
        async () => {
          const now = await treeCounts();
          return now.chunksDone > first.chunksDone && now.chunksDone < now.chunks ? now : undefined;
        },
        30_000,
      );
      expect(later.chunksDone).toBeGreaterThan(first.chunksDone);
      expect(await page.locator('[data-field="eta"]').textContent()).toMatch(/^(\d+ s|\d+ min \d+ s|—)$/);
      // The screenshot a little further on, with the tree partly filled in.
      await eventually('a third of the tree in place', async () => {
        const now = await treeCounts();
        return now.chunksDone * 3 >= now.chunks && now.chunksDone < now.chunks ? now : undefined;
      });
      await page.screenshot({ path: `${SHOTS}copy-job.png`, fullPage: true });

      await page.locator('.badge-succeeded').first().waitFor({ timeout: 90_000 });
      await eventually('the whole tree in place', async () => {
        const done = await treeCounts();
        return done.chunksDone === done.chunks ? true : undefined;
      });
      expect(await page.locator('ol.timeline').textContent()).toContain('Remove the intermediaries');
    }, 150_000);

    it('shows a failed job’s error', async () => {
      disarm.push(
        armFailpoint('copy-task', (context) => {
          if (String(context.taskId).includes('-t')) throw new Error('injected: disk on fire');
        }),
      );
      await page.goto(`${server.url}/#/snapshots/${snapshotId}`);
      const form = page.getByRole('form', { name: 'Copy the snapshot into new volumes' });
      await form.getByLabel('Copies').fill('3');
      await form.getByRole('button', { name: 'Start copy job' }).click();
      await page.waitForURL(/#\/copy-jobs\/copy-/);
      const alert = page.locator('.job-error');
      await alert.waitFor({ timeout: 60_000 });
      expect(await alert.textContent()).toContain('The copy job failed.');
      expect(await alert.textContent()).toContain('disk on fire');
      // It names the state that failed, from the events.
      await page.locator('.job-error em').waitFor({ timeout: 10_000 });
      expect(await page.locator('.job-error em').textContent()).toMatch(/\w/);
      await page.locator('ol.timeline .event-bad').first().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: `${SHOTS}copy-job-failed.png`, fullPage: true });

      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Copy jobs' }).click();
      await page.locator('table[aria-label="Copy jobs"] tbody tr').nth(1).waitFor();
      const states = await page.locator('table[aria-label="Copy jobs"] [data-col="state"]').allTextContents();
      expect(states).toEqual(['failed', 'succeeded']);
      await page.screenshot({ path: `${SHOTS}copy-jobs.png` });
    }, 90_000);

    it('shows a hydrating copy’s progress on the volumes page, chunks in place of all, until it is whole', async () => {
      // A fresh, partly written volume: its allocation is what was written, not its size.
      const fresh = await call(cloud().apiUrl, 'POST', '/volumes', { ...GEOMETRY, name: 'half' });
      const half = fresh.body.volumeId as string;
      expect(
        (await call(cloud().apiUrl, 'PUT', `/volumes/${half}/data?offset=0`, pattern(GEOMETRY.sizeBytes / 2, 3), { 'content-type': 'application/octet-stream' })).status,
      ).toBe(200);
      // As slow as the job whose tree fills in above: chunks arrive one by one.
      const started = await call(cloud().apiUrl, 'POST', `/snapshots/${snapshotId}/copies`, { count: 4, maxSourceFanout: FANOUT });
      expect(started.status).toBe(202);
      const target = started.body.volumeIds[0] as string;
      await page.goto(`${server.url}/#/volumes`);
      const halfRow = page.locator(`tr[data-volume-id="${half}"] [data-col="allocated"]`);
      await page.waitForFunction((cell) => cell?.getAttribute('data-bytes') !== null, await halfRow.elementHandle({ timeout: 10_000 }));
      expect(await halfRow.textContent()).toBe('512 KiB');

      const hydration = page.locator(`tr[data-volume-id="${target}"] [data-col="hydration"]`);
      const chunksTotal = (await call(cloud().apiUrl, 'GET', `/volumes/${target}`)).body.hydration.chunksTotal as number;
      expect(chunksTotal).toBeGreaterThan(0);
      const partial = await eventually('a partly hydrated target on the page', async () => {
        const percent = Number(await hydration.getAttribute('data-percent'));
        const text = (await hydration.textContent()) ?? '';
        return percent > 0 && percent < 100 ? { percent, text } : undefined;
      });
      expect(partial.text).toMatch(new RegExp(`^\\d+/${chunksTotal} chunks \\([\\d.]+%\\), ETA (\\d+ s|\\d+ min \\d+ s|—)$`));
      expect(await page.locator(`tr[data-volume-id="${target}"] [data-col="state"]`).textContent()).toBe('hydrating');
      await page.screenshot({ path: `${SHOTS}volumes.png` });
      await eventually('the target whole', async () => ((await hydration.getAttribute('data-percent')) === '100' ? true : undefined), 60_000);
      expect(await hydration.textContent()).toBe(`${chunksTotal}/${chunksTotal} chunks (100%)`);
    }, 90_000);

    it('shows the figures of GET /metrics, and they move when the volume is written and read', async () => {
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Metrics' }).click();
      const figure = (id: string) => page.locator(`[data-metric="${id}"] [data-value]`);
      await figure('write-ops').waitFor();
      const before = Number(await figure('write-ops').textContent());
      const readsBefore = Number(await figure('read-ops').textContent());
      expect(before).toBeGreaterThan(0);
      expect(await figure('write-latency').textContent()).toMatch(/^[\d.]+ (ms|s)$/);
      for (let i = 0; i < 3; i++) {
        const written = await call(cloud().apiUrl, 'PUT', `/volumes/${volumeId}/data?offset=${i * 4 * KIB}`, pattern(4 * KIB, i), { 'content-type': 'application/octet-stream' });
        expect(written.status).toBe(200);
      }
      expect((await call(cloud().apiUrl, 'GET', `/volumes/${volumeId}/data?offset=0&length=4096`)).status).toBe(200);
      const after = await eventually('more ops on the metrics page', async () => {
        const now = Number(await figure('write-ops').textContent());
        return now >= before + 3 ? now : undefined;
      });
      expect(after).toBeGreaterThanOrEqual(before + 3);
      await eventually('one more read', async () => (Number(await figure('read-ops').textContent()) > readsBefore ? true : undefined));
      expect(await page.locator('[data-metric="write-ops"]').textContent()).toMatch(/ops\/s now/);
      expect(Number((await figure('copy-bytes').textContent())?.split(' ')[0])).toBeGreaterThan(0);
      expect(await figure('flush-lag').textContent()).toMatch(/^(\d+ ops|—)$/);
      await page.screenshot({ path: `${SHOTS}metrics.png`, fullPage: true });
    });

    it('refuses a change that does not come from the console page', async () => {
      const forged = await fetch(`${server.url}/api/volumes`, { method: 'POST', body: JSON.stringify({ sizeBytes: 1048576 }) });
      expect(forged.status).toBe(403);
      // A page on another name that resolves to 127.0.0.1 (DNS rebinding) sends its own Host.
      const rebound = await new Promise<number | undefined>((resolve, reject) => {
        request(`${server.url}/api/volumes`, { headers: { host: 'evil.example' } }, (response) => {
          response.resume();
          resolve(response.statusCode);
        })
          .on('error', reject)
          .end();
      });
      expect(rebound).toBe(421);
      expect((await fetch(`${server.url}/api/volumes`)).status).toBe(200);
    });
  });
}
