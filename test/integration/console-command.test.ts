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

  it('proxies through the CLI transport: SigV4-signed for a --stack, with --region and credentials', async () => {
    const out = capture();
    const seen: Array<{ url: string; authorization: string | null }> = [];
    const apiFetch = (async (input: string | URL, init?: RequestInit) => {
      seen.push({ url: String(input), authorization: new Headers(init?.headers).get('authorization') });
      return new Response(JSON.stringify({ volumes: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const running = run(['--stack', 'Sleds-Stateless', '--region', 'eu-west-1', 'console', '--port', '0'], {
      stdout: out.stream,
      stderr: capture().stream,
      env: {},
      fetch: apiFetch,
      credentials: () => () => Promise.resolve({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }),
      readStackOutput: () => Promise.resolve('https://abc123.execute-api.eu-west-1.amazonaws.com/prod'),
    });
    try {
      let url: string | undefined;
      for (let tries = 0; !url && tries < 200; tries++) {
        url = /^Console (http:\/\/127\.0\.0\.1:\d+)\s/m.exec(out.text())?.[1];
        if (!url) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(url, out.text()).toBeDefined();
      const proxied = await fetch(`${url}/api/volumes`);
      expect(proxied.status).toBe(200);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.url).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/prod/volumes');
      expect(seen[0]!.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, /);
    } finally {
      process.emit('SIGINT');
      expect(await running).toBe(0);
    }
  });

  it('refuses a port that is not one', async () => {
    const err = capture();
    const status = await run(['console', '--port', '70000'], { stdout: capture().stream, stderr: err.stream, env: {} });
    expect(status).toBe(2);
    expect(err.text()).toMatch(/70000.*is not a port number/);
  });
});
