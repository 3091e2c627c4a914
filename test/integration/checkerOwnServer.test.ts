// Our own receiver scores 100 % in the checker, plain and state-aware, on SQLite and on PostgreSQL; and `check` against a fresh `serve` passes.
import path from 'node:path';
import { formatText, runChecks, type Scorecard } from '../../src/checker';
import { describeEachStore } from '../support/backends';
import { startLiveApp, type LiveApp } from '../support/liveApp';
import { repoRoot, startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';
import { runCli } from '../support/runProcess';

const ADMIN_TOKEN = 'checker-own-server-admin-token';

/** The failures and warnings, with what came back: an unhelpful "expected 100" otherwise. */
function problems(card: Scorecard): string[] {
  return card.results
    .filter((r) => r.status === 'fail' || r.status === 'warn')
    .map((r) => `${r.id}: ${r.received}${r.detail ? ` (${r.detail})` : ''}`);
}

describeEachStore('checker against our own server', (backend) => {
  let app: LiveApp;
  beforeAll(async () => {
    app = await startLiveApp({ ...(await backend.env()), ADMIN_TOKEN });
  });
  afterAll(() => app.close());

  test('scores 100 % without the admin API (state checks skipped)', async () => {
    const card = await runChecks({ url: `${app.url}/webhook`, secret: app.webhookSecret });

    expect(problems(card)).toEqual([]);
    expect(card.score).toBe(100);
    expect(card.ok).toBe(true);
    expect(card.results.filter((r) => r.status === 'skip').map((r) => r.group)).toEqual(
      expect.arrayContaining(['state']),
    );
    expect(card.results.filter((r) => r.status === 'skip').every((r) => r.group === 'state')).toBe(
      true,
    );
  }, 120_000);

  test('scores 100 % in state-aware mode: every check runs and passes', async () => {
    const card = await runChecks({
      url: `${app.url}/webhook`,
      secret: app.webhookSecret,
      admin: { url: app.url, token: ADMIN_TOKEN },
    });

    expect(problems(card)).toEqual([]);
    expect(card.totals.skip).toBe(0);
    expect(card.score).toBe(100);
    expect(formatText(card)).toMatch(/^OK: \d+ passed, 0 failed, 0 warned, 0 skipped; score 100%/m);
  }, 120_000);

  test("the check's deliveries stay in their own tenant, under its own segment ids", async () => {
    const card = await runChecks({
      url: `${app.url}/webhook`,
      secret: app.webhookSecret,
      only: ['signing.valid'],
    });
    expect(card.ok).toBe(true);

    const response = await fetch(`${app.url}/api/connections/heap-partner-api-check/segments`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const { segments } = (await response.json()) as { segments: { segment_id: number }[] };
    expect(segments.length).toBeGreaterThan(0);
    for (const segment of segments) {
      expect(segment.segment_id).toBeGreaterThanOrEqual(1_000_000_000);
      expect(segment.segment_id).toBeLessThan(2 ** 31);
    }
  }, 60_000);
});

describe('npm start, then npm run check -- <url>', () => {
  let server: ServerProcess;
  let cwd: string;
  beforeAll(async () => {
    cwd = tempDir('hpa-check-start-');
    // What `npm start` runs, with nothing configured: the development secret lands in ./data.
    server = await startServer({}, cwd, [
      path.join(repoRoot, 'bin', 'heap-partner-api.js'),
      'serve',
    ]);
  });
  afterAll(async () => {
    server.child.kill('SIGTERM');
    await server.exited;
  });

  test('prints an all-pass scorecard and exits 0, finding the secret the server generated', async () => {
    const run = await runCli(['check', `${server.url}/webhook`], {}, cwd);

    expect(run.stdout).not.toMatch(/^ {2}(FAIL|WARN) /m);
    expect(run.stdout).toMatch(/^OK: \d+ passed, 0 failed, 0 warned, \d+ skipped; score 100%/m);
    expect(run.code).toBe(0);
  }, 120_000);
});
