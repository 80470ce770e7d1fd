import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { run } from '../../lib/cli/main.js';

const SLEDS = fileURLToPath(new URL('../../lib/cli/sleds.mjs', import.meta.url));

function capture() {
  let text = '';
  return { stream: { write: (chunk: string | Uint8Array) => (text += String(chunk)) }, text: () => text };
}

describe('sleds console', () => {
  it('serves the console on 127.0.0.1, proxies to --api, and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [SLEDS, 'console', '--port', '0', '--api', 'http://127.0.0.1:9/stage'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (text) => {
          if (text.startsWith('Console ')) resolve(text);
        });
        child.on('exit', (code) => reject(new Error(`sleds console exited with ${code}`)));
      });
      const url = /^Console (http:\/\/127\.0\.0\.1:\d+)\s/.exec(line)?.[1];
      expect(url, line).toBeDefined();
      expect(line).toContain('API http://127.0.0.1:9/stage');
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script type="module" src="/assets/console.js">');
      const script = await fetch(`${url}/assets/console.js`);
      expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
      // Nothing answers at the API: the proxy says so, as the API's own error shape.
      const proxied = await fetch(`${url}/api/volumes`);
      expect(proxied.status).toBe(502);
      expect(((await proxied.json()) as { error: { code: string } }).error.code).toBe('ApiUnreachable');
    } finally {
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    }
  });

  it('says that --stack needs request signing, and exits 2', async () => {
    const out = capture();
    const err = capture();
    const status = await run(['console', '--stack', 'Sleds-Stateless'], { stdout: out.stream, stderr: err.stream, env: {} });
    expect(status).toBe(2);
    expect(err.text()).toMatch(/--stack Sleds-Stateless: .*request signing.*--api/);
  });

  it('refuses a port that is not one', async () => {
    const err = capture();
    const status = await run(['console', '--port', '70000'], { stdout: capture().stream, stderr: err.stream, env: {} });
    expect(status).toBe(2);
    expect(err.text()).toMatch(/70000.*is not a port number/);
  });
});
