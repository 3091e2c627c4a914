// Credentials leaking into logs: a failed Heap call (axios keeps the bearer token and client secret) and a logged request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import axios from 'axios';
import express from 'express';
import { errorHandler } from '../../middleware/errors';
import { createLogger } from '../../src/server/logger';

const ACCESS_TOKEN = 'access-token-that-must-not-be-logged';
const CLIENT_SECRET = 'client-secret-that-must-not-be-logged';
const SESSION_COOKIE = 'session-cookie-that-must-not-be-logged';
const HEAP_HASH = 'ts:1700000000000,hmac:hmac-that-must-not-be-logged';
const ADMIN_BEARER = 'admin-bearer-that-must-not-be-logged';
const SIGN_IN_CODE = 'sign-in-code-that-must-not-be-logged';
const SECRETS = [
  ACCESS_TOKEN,
  CLIENT_SECRET,
  SESSION_COOKIE,
  'hmac-that-must',
  ADMIN_BEARER,
  SIGN_IN_CODE,
];

const servers: http.Server[] = [];
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

function expectNoSecret(lines: string[]): void {
  const text = lines.join('\n');
  for (const secret of SECRETS) expect([secret, text.includes(secret)]).toEqual([secret, false]);
}

/** Heap answering the token exchange with a 500. */
const failingHeap = () =>
  listen((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(500, { 'content-type': 'application/json' }).end('{}'));
  });

/** What our Heap client sends: the client secret in the body, or the access token as bearer. */
function callHeap(heapUrl: string) {
  return axios.post(
    `${heapUrl}/api/partner/oauth/token`,
    new URLSearchParams({ code: 'the-code', client_secret: CLIENT_SECRET }).toString(),
    { headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } },
  );
}

it('a failed Heap call reaching the error handler logs its code and status, not its credentials', async () => {
  const heapUrl = await failingHeap();
  const { lines, logger } = capture();
  const app = express();
  app.get('/connect', async (req, _res, next) => {
    // The request itself, as a handler might log it: method, path and redacted headers.
    logger.info({ req }, 'connect requested');
    try {
      await callHeap(heapUrl);
    } catch (error) {
      next(error);
    }
  });
  app.use(errorHandler(logger, 5));
  const appUrl = await listen(app);

  const res = await fetch(`${appUrl}/connect?code=${SIGN_IN_CODE}`, {
    headers: {
      authorization: `Bearer ${ADMIN_BEARER}`,
      cookie: `hpa_admin=${SESSION_COOKIE}`,
      'heap-hash': HEAP_HASH,
    },
  });
  expect(res.status).toBe(500);
  expect(await res.json()).toMatchObject({ error: 'internal_error' });

  expectNoSecret(lines);
  const request = JSON.parse(lines.find((line) => line.includes('connect requested'))!) as {
    req: { method: string; path: string; headers: Record<string, string> };
  };
  expect(request.req).toMatchObject({ method: 'GET', path: '/connect' });
  expect(request.req.headers).toMatchObject({
    authorization: '[redacted]',
    cookie: '[redacted]',
    'heap-hash': '[redacted]',
  });
  const failure = JSON.parse(lines.find((line) => line.includes('"level":50'))!) as {
    err: Record<string, unknown>;
  };
  expect(failure.err).toMatchObject({
    type: 'AxiosError',
    code: 'ERR_BAD_RESPONSE',
    status: 500,
    method: 'POST',
    origin: heapUrl,
  });
  expect(Object.keys(failure.err)).not.toEqual(
    expect.arrayContaining(['config', 'request', 'response']),
  );
});

it('an axios error logged any other way carries no credential either', async () => {
  const heapUrl = await failingHeap();
  const error = await callHeap(heapUrl).catch((failed: unknown) => failed);
  expect(axios.isAxiosError(error)).toBe(true);
  // Before logging, the error does hold them: what the logger must keep out.
  expect(JSON.stringify((error as { toJSON: () => unknown }).toJSON())).toContain(ACCESS_TOKEN);

  const { lines, logger } = capture();
  logger.error(error as Error, 'as the first argument');
  logger.error({ err: error }, 'as err');
  logger.error({ error }, 'as error');
  logger.error({ err: (error as { toJSON: () => unknown }).toJSON() }, 'as JSON under err');
  logger.error({ error: (error as { toJSON: () => unknown }).toJSON() }, 'as JSON under error');
  logger.info(
    { headers: { Authorization: `Bearer ${ACCESS_TOKEN}`, cookie: SESSION_COOKIE } },
    'headers on their own',
  );
  logger.info({ step: 'token', access_token: ACCESS_TOKEN }, 'a token field');
  const wrapped = Object.assign(new Error('could not connect', { cause: error }), {
    original: error,
    request: { headers: { Authorization: `Bearer ${ACCESS_TOKEN}` } },
  });
  logger.error({ err: wrapped }, 'wrapped in another error');
  expect(lines).toHaveLength(8);
  expect(lines[7]).toMatch(/"cause":\{"type":"AxiosError".*"status":500/);
  expectNoSecret(lines);
  for (const line of lines.slice(0, 3)) {
    expect(line).toMatch(/"code":"ERR_BAD_RESPONSE"/);
  }
});
