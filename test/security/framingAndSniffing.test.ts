// Attack: framing a page (clickjacking the dashboard or the consent page), MIME sniffing, leaking URLs by Referer; every page over real HTTP.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { repoRoot, startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

let running: ServerProcess | undefined;
let emulator: ChildProcess | undefined;
afterEach(() => {
  running?.child.kill('SIGKILL');
  emulator?.kill('SIGKILL');
  running = undefined;
  emulator = undefined;
});

type Headers = Record<string, string | null>;

async function headersOf(url: string): Promise<{ headers: Headers }> {
  const res = await fetch(url, { redirect: 'manual' });
  await res.arrayBuffer();
  const pick = (name: string) => res.headers.get(name);
  return {
    headers: {
      type: pick('content-type'),
      csp: pick('content-security-policy'),
      nosniff: pick('x-content-type-options'),
      referrer: pick('referrer-policy'),
    },
  };
}

/** What every HTML page must carry; a failure names the page. */
function expectPageHeaders(url: string, headers: Headers): void {
  expect({ url, type: headers.type }).toEqual({ url, type: expect.stringMatching(/^text\/html/) });
  const csp = headers.csp ?? '';
  const directives = new Map(
    csp.split(/;\s*/).map((directive) => {
      const [name, ...values] = directive.trim().split(/\s+/);
      return [name, values] as const;
    }),
  );
  expect({ url, frameAncestors: directives.get('frame-ancestors') }).toEqual({
    url,
    frameAncestors: ["'none'"],
  });
  expect({ url, scripts: directives.get('script-src') }).toEqual({ url, scripts: ["'self'"] });
  expect({ url, styles: directives.get('style-src') }).toEqual({
    url,
    styles: expect.not.arrayContaining(["'unsafe-inline'"]),
  });
  expect({ url, nosniff: headers.nosniff, referrer: headers.referrer }).toEqual({
    url,
    nosniff: 'nosniff',
    referrer: 'no-referrer',
  });
}

it('gives every HTML page of the app and the mounted emulator a CSP, nosniff and Referrer-Policy', async () => {
  // The zero-config sandbox: the emulator is mounted, so its pages are served by the app too.
  running = await startServer({ DATA_DIR: tempDir() });
  const base = running.url;
  // Connect Heap's redirect leads to the emulator's consent page with a valid request.
  const authorize = await fetch(`${base}/api/authorize`, { redirect: 'manual' });
  const consent = new URL(authorize.headers.get('location') ?? '');
  const pages = [
    '/',
    '/app',
    '/login',
    '/docs',
    '/api/oauth_redirect?error=access_denied',
    '/api/oauth_redirect?code=abc&state=forged',
    '/heap-emulator/developers-hub',
    `/heap-emulator/api/partner/oauth/authorize${consent.search}`,
    '/heap-emulator/api/partner/oauth/authorize?client_id=nobody',
  ];
  expect(consent.pathname).toBe('/heap-emulator/api/partner/oauth/authorize');
  for (const page of pages) {
    expectPageHeaders(page, (await headersOf(`${base}${page}`)).headers);
  }
});

it('sends JSON (the OpenAPI document, errors) with nosniff', async () => {
  running = await startServer({ DATA_DIR: tempDir() });
  for (const page of ['/api/openapi.json', '/api/overview', '/no-such-page']) {
    const { headers } = await headersOf(`${running.url}${page}`);
    expect({ page, type: headers.type, nosniff: headers.nosniff }).toEqual({
      page,
      type: expect.stringMatching(/^application\/json/),
      nosniff: 'nosniff',
    });
  }
});

it('gives the standalone emulator (npm run heap-emulator) the same headers', async () => {
  const child = spawn(process.execPath, [path.join(repoRoot, 'dist/src/emulator/main.js')], {
    cwd: tempDir(),
    env: {
      PATH: process.env.PATH ?? '',
      HEAP_EMULATOR_PORT: '0',
      WEBHOOK_SECRET: 'standalone-secret',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  emulator = child;
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`emulator exited with ${code}: ${err}`)));
  });
  for (const page of ['/developers-hub', '/api/partner/oauth/authorize?client_id=nobody']) {
    expectPageHeaders(page, (await headersOf(`${url}${page}`)).headers);
  }
});
