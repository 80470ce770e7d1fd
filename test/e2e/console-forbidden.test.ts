/**
 * The web console against an embedded cloud that requires SigV4, with no credentials: every
 * page says that the API refused it (403) and what to do, and nothing is made. Its own file:
 * an embedded cloud owns its process's handler environment, so it cannot share one with
 * console.test.ts's.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../lib/api/sign-requests.js';
import { LOCAL_API_CREDENTIALS } from '../../lib/config.js';
import { startConsoleServer, type ConsoleServer } from '../../lib/console/server.js';
import { useLocalCloud } from '../support/local-cloud.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SHOTS = fileURLToPath(new URL('../../docs/console/', import.meta.url));
const haveChromium = existsSync(CHROMIUM);

// console.test.ts fails in CI without Chromium; here a missing browser only skips.
describe.skipIf(!haveChromium)('web console against an API that requires SigV4, without credentials', () => {
  const guarded = useLocalCloud({ sledCount: 2, apiAuth: { mode: 'sigv4', ...LOCAL_API_CREDENTIALS } });
  let unsigned: ConsoleServer;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    unsigned = await startConsoleServer({ apiBaseUrl: guarded().apiUrl });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 600 }, colorScheme: 'light' });
  });

  afterAll(async () => {
    await browser?.close();
    await unsigned?.close();
  });

  it('says clearly when the API refuses the console (403: SigV4 required, no credentials), and nothing is made', async () => {
    await page.goto(`${unsigned.url}/#/volumes`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.getAttribute('data-status')).toBe('403');
    expect(await alert.textContent()).toContain('Could not list the volumes MISSING_AUTHENTICATION_TOKEN: Missing Authentication Token');
    expect(await alert.locator('[data-hint="forbidden"]').textContent()).toContain('403 Forbidden: the Sleds API refused this console');
    await page.screenshot({ path: `${SHOTS}forbidden.png` });
    // A change is refused the same way.
    await page.getByRole('button', { name: 'Create volume' }).click();
    await page.getByRole('alert').filter({ hasText: 'Could not create the volume' }).locator('[data-hint="forbidden"]').waitFor();
    for (const path of ['/snapshots', '/copy-jobs', '/metrics']) {
      await page.goto(`${unsigned.url}/#${path}`);
      await page.getByRole('alert').locator('[data-hint="forbidden"]').waitFor();
    }
    const url = new URL(`${guarded().apiUrl}/volumes`);
    const headers = await signRequest({ method: 'GET', url, headers: { accept: 'application/json' } }, LOCAL_API_CREDENTIALS, { region: 'us-east-1' });
    const listed = await fetch(url, { headers });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { volumes: unknown[] }).volumes).toEqual([]);
  }, 60_000);
});
