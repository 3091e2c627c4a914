// METRICS_PORT: the built server serves /metrics on its own loopback listener (and only there), fed by the app's traffic.
import { startServer, type ServerProcess } from '../support/serverProcess';
import { scrape, value } from '../support/scrape';
import { tempDir, TEST_SECRET } from '../support/testApp';
import { signHeapHash } from '../../src/webhook/signature';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

const running: ServerProcess[] = [];
afterEach(() => {
  for (const server of running.splice(0)) server.child.kill('SIGKILL');
});

async function start(env: Record<string, string>): Promise<ServerProcess & { metricsUrl: string }> {
  const server = await startServer({
    DATA_DIR: tempDir('hpa-metrics-port-'),
    WEBHOOK_SECRET: TEST_SECRET,
    ...env,
  });
  running.push(server);
  const line = server
    .stdout()
    .split('\n')
    .find((l) => l.includes('"msg":"listening"'));
  const { metrics_port: port } = JSON.parse(line ?? '{}') as { metrics_port?: number };
  if (!port) throw new Error(`no metrics_port in the listening line: ${line}`);
  return { ...server, metricsUrl: `http://127.0.0.1:${port}` };
}

const DRAIN = JSON.stringify({
  action_type: 'segment.users.drain',
  data: { segment: { id: 3, name: 'Port segment' } },
});

test('METRICS_PORT alone: /metrics there without a token, not on the app port; the banner says where', async () => {
  const server = await start({ METRICS_PORT: '0' });
  const delivered = await fetch(`${server.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'heap-hash': signHeapHash(TEST_SECRET, DRAIN) },
    body: DRAIN,
  });
  expect(delivered.status).toBe(200);

  const scraped = await scrape(`${server.metricsUrl}/metrics`);
  expect(
    value(scraped, 'heap_partner_webhook_deliveries_total', {
      action: 'drain',
      status: 'applied',
      reason: '',
      code: '200',
    }),
  ).toBe(1);
  // The server wires the retention job and the SQLite worker's commits to the same registry.
  expect(value(scraped, 'heap_partner_retention_deleted_rows_total', { table: 'deliveries' })).toBe(
    0,
  );
  expect(
    scraped.families.find((f) => f.name === 'heap_partner_store_commit_batch_size'),
  ).toBeDefined();

  expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
  expect((await fetch(`${server.metricsUrl}/webhook`)).status).toBe(404);
  expect((await fetch(`${server.metricsUrl}/metrics`, { method: 'POST' })).status).toBe(405);
  expect(server.stderr()).toContain(
    `Metrics:        ${server.metricsUrl}/metrics   (METRICS_PORT)`,
  );
});

test('METRICS_PORT with METRICS_TOKEN: the token is needed on that port too', async () => {
  const server = await start({ METRICS_PORT: '0', METRICS_TOKEN });
  expect((await fetch(`${server.metricsUrl}/metrics`)).status).toBe(401);
  const scraped = await scrape(`${server.metricsUrl}/metrics`, METRICS_TOKEN);
  expect(value(scraped, 'process_start_time_seconds')).toBeGreaterThan(0);
  expect(
    (
      await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      })
    ).status,
  ).toBe(404);
  expect(server.stderr()).not.toContain(METRICS_TOKEN);
  expect(server.stdout()).not.toContain(METRICS_TOKEN);
});

test('METRICS_TOKEN alone: /metrics on the app port, and the banner names it without the token', async () => {
  const server = await startServer({
    DATA_DIR: tempDir('hpa-metrics-port-'),
    WEBHOOK_SECRET: TEST_SECRET,
    METRICS_TOKEN,
  });
  running.push(server);
  const scraped = await scrape(`${server.url}/metrics`, METRICS_TOKEN);
  expect(value(scraped, 'heap_partner_connections_active')).toBe(0);
  expect(server.stderr()).toMatch(
    /Metrics: +http:\/\/\S+\/metrics +\(Authorization: Bearer <METRICS_TOKEN>\)/,
  );
  expect(server.stderr()).not.toContain(METRICS_TOKEN);
});
