// 100 parallel forged 16 MiB bodies (half gzip bombs) against the built server: RSS stays bounded, a genuine delivery still lands.
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { signHeapHash } from '../../src/webhook/signature';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { sleep } from '../support/rawHttp';
import { syncBody, tempDir } from '../support/testApp';

const SECRET = 'forged-body-memory-secret';
const ADMIN_TOKEN = 'forged-body-memory-admin-token';
const MIB = 1024 * 1024;
const BODY_BYTES = 16 * MIB;
const RSS_GROWTH_LIMIT_MB = 300;

let server: ServerProcess;
let dataDir: string;
// Keep-alive, as Heap's client would: the server answers a refused body early and drains the rest.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

beforeAll(async () => {
  dataDir = tempDir('hpa-forged-');
  // Started as Heap's README starts it: WEBHOOK_SECRET exported, NODE_ENV unset.
  server = await startServer({
    WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN,
    DATA_DIR: dataDir,
    RETRY_AFTER_SECONDS: '1',
  });
});

afterAll(async () => {
  agent.destroy();
  server?.child.kill('SIGTERM');
  await server?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

/** A figure from /proc/<pid>/status, in MB. */
function procStatusMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) / 1024;
}

type Answer = { status: number; headers: http.IncomingHttpHeaders; body: string };

function post(
  headers: Record<string, string | number>,
  body: Buffer,
  chunked = false,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: '/webhook',
        agent,
        headers: {
          'content-type': 'application/json',
          ...(chunked ? {} : { 'content-length': body.length }),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A well-formed Heap-Hash with a current timestamp that no body matches. */
const forgedHeapHash = () => `ts:${Date.now()},hmac:${Buffer.alloc(32, 1).toString('base64')}`;

async function deliverGenuine(body: string): Promise<{ answer: Answer; attempts: Answer[] }> {
  const attempts: Answer[] = [];
  // As Heap does: a 503 is retried after Retry-After, with a fresh signature.
  for (let i = 0; i < 30; i++) {
    const answer = await post(
      { 'heap-hash': signHeapHash(SECRET, body, Date.now()) },
      Buffer.from(body),
    );
    attempts.push(answer);
    if (answer.status !== 503) return { answer, attempts };
    await sleep(Number(answer.headers['retry-after']) * 1000);
  }
  throw new Error('the genuine delivery was refused 30 times');
}

it('keeps RSS growth under 300 MB and applies a genuine delivery sent during the attack', async () => {
  const pid = server.child.pid as number;
  // Warm up the code paths a genuine delivery and a refusal use, then take the baseline.
  const warmUp = JSON.stringify(syncBody({ segmentId: 1, add: ['warm-up'] }));
  expect((await deliverGenuine(warmUp)).answer.status).toBe(200);
  expect((await post({ 'heap-hash': forgedHeapHash() }, Buffer.from('{}'))).status).toBe(403);
  const baselineMb = procStatusMb(pid, 'VmRSS');

  let peakSampledMb = baselineMb;
  const sampler = setInterval(() => {
    peakSampledMb = Math.max(peakSampledMb, procStatusMb(pid, 'VmRSS'));
  }, 20);

  // 16 MiB of JSON-looking bytes, and the same once inflated from about 16 KB of gzip.
  const plain = Buffer.alloc(BODY_BYTES, ' ');
  const bomb = gzipSync(plain, { level: 9 });
  expect(bomb.length).toBeLessThan(64 * 1024);
  let pending = 0;
  const attacks = Array.from({ length: 100 }, (_, i) => {
    pending++;
    const headers = { 'heap-hash': forgedHeapHash() };
    const sent =
      i % 2 === 0
        ? post({ ...headers, 'content-encoding': 'gzip' }, bomb)
        : // Of the plain half, every other one is chunked: no Content-Length to refuse it by.
          post(headers, plain, i % 4 === 3);
    return sent.then(
      (answer) => {
        pending--;
        return { kind: i % 2 === 0 ? 'gzip' : i % 4 === 3 ? 'chunked' : 'plain', ...answer };
      },
      (error: Error) => {
        pending--;
        return {
          kind: 'error',
          status: 0,
          headers: {} as http.IncomingHttpHeaders,
          body: error.message,
        };
      },
    );
  });

  // Once the first answers are back, while most bodies are still on the wire.
  await Promise.race(attacks);
  const pendingWhenSent = pending;
  const genuineBody = JSON.stringify(syncBody({ segmentId: 77, add: ['genuine-during-attack'] }));
  const genuine = deliverGenuine(genuineBody);

  const answers = await Promise.all(attacks);
  const { answer, attempts } = await genuine;
  clearInterval(sampler);
  const peakMb = Math.max(peakSampledMb, procStatusMb(pid, 'VmHWM'));
  const growthMb = peakMb - baselineMb;

  const byStatus = answers.reduce<Record<string, number>>((counts, a) => {
    const key = `${a.kind} ${a.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
    return counts;
  }, {});
  process.stdout.write(
    `forged bodies: baseline RSS ${baselineMb.toFixed(0)} MB, peak ${peakMb.toFixed(0)} MB ` +
      `(growth ${growthMb.toFixed(0)} MB); answers ${JSON.stringify(byStatus)}; ` +
      `${pendingWhenSent} attack requests pending when the genuine one was sent; ` +
      `genuine answers ${attempts.map((a) => a.status).join(',')}\n`,
  );

  expect(pendingWhenSent).toBeGreaterThan(0);
  for (const a of answers) {
    expect([403, 413, 415, 503]).toContain(a.status);
    expect(JSON.parse(a.body)).toEqual({ error: expect.any(String), message: expect.any(String) });
  }
  // Every gzip bomb is refused for its encoding, unread.
  expect(answers.filter((a) => a.kind === 'gzip').map((a) => a.status)).toEqual(
    Array(50).fill(415),
  );
  for (const a of answers.filter((x) => x.status === 503)) {
    expect(a.headers['retry-after']).toBe('1');
    expect(JSON.parse(a.body)).toMatchObject({ error: 'server_busy' });
  }
  expect(growthMb).toBeLessThan(RSS_GROWTH_LIMIT_MB);

  // The genuine delivery was only ever told to retry, then applied, and is visible afterwards.
  expect(attempts.every((a) => a.status === 200 || a.status === 503)).toBe(true);
  expect(answer.status).toBe(200);
  expect(JSON.parse(answer.body)).toMatchObject({ status: 'applied', added: 1 });
  const members = await fetch(`${server.url}/api/connections/own/segments/77/members`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  expect(members.status).toBe(200);
  expect(await members.json()).toMatchObject({ members: ['genuine-during-attack'] });
}, 120_000);
