// The Developers Hub's "Check a receiver" over real HTTP: the checker run against the app's own webhook, one run at a time.
import { startLiveApp, type LiveApp } from '../support/liveApp';

const HUB = '/heap-emulator/api/hub';

type CheckRunView = {
  id: string;
  state: 'running' | 'finished' | 'cancelled';
  webhook_url: string;
  total_checks: number;
  checks_done: number;
  score: number | null;
  ok: boolean | null;
  totals: Record<'pass' | 'fail' | 'warn' | 'skip', number> | null;
  state_aware: boolean;
  results: { id: string; group: string; status: string; sent: string; received: string }[];
};

async function hub(app: LiveApp, method: string, pathname: string, body?: unknown) {
  const res = await fetch(`${app.url}${HUB}${pathname}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function waitForEnd(app: LiveApp): Promise<CheckRunView> {
  for (;;) {
    const latest = await hub(app, 'GET', '/checks/latest');
    expect(latest.status).toBe(200);
    const run = latest.body as unknown as CheckRunView;
    if (run.state !== 'running') return run;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('Developers Hub: Check a receiver', () => {
  let app: LiveApp;
  beforeEach(async () => {
    app = await startLiveApp();
  });
  afterEach(async () => {
    await app.close();
  });

  it('has no run before the first one', async () => {
    const latest = await hub(app, 'GET', '/checks/latest');
    expect(latest.status).toBe(404);
    expect(latest.body.error).toBe('not_found');
  });

  it('scores the app it is mounted in at 100 %, skipping only the checks that need its admin API', async () => {
    const started = await hub(app, 'POST', '/checks', {});
    expect(started.status).toBe(202);
    expect(started.body.state).toBe('running');
    expect(started.body.webhook_url).toBe(`${app.url}/webhook`);

    const run = await waitForEnd(app);
    expect(run.state).toBe('finished');
    const ran = run.results.filter((r) => r.status !== 'skip');
    expect(ran.length).toBeGreaterThanOrEqual(40);
    expect(new Set(ran.map((r) => r.group))).toEqual(
      new Set(['signing', 'raw-bytes', 'protocol', 'variants']),
    );
    expect(run.results.filter((r) => r.status === 'skip').map((r) => r.group)).toEqual(
      run.results.filter((r) => r.group === 'state').map(() => 'state'),
    );
    expect(ran.filter((r) => r.status !== 'pass')).toEqual([]);
    expect(run.score).toBe(100);
    expect(run.ok).toBe(true);
    expect(run.state_aware).toBe(false);
    expect(run.checks_done).toBe(run.total_checks);
    const serialized = JSON.stringify(run);
    expect(serialized).not.toContain(app.webhookSecret);
  });

  it('runs only the groups asked for', async () => {
    const started = await hub(app, 'POST', '/checks', { only: ['raw-bytes'] });
    expect(started.status).toBe(202);
    const run = await waitForEnd(app);
    const ran = run.results.filter((r) => r.status !== 'skip');
    expect(ran.length).toBe(5);
    expect(ran.every((r) => r.group === 'raw-bytes' && r.status === 'pass')).toBe(true);
  });

  it('runs one check at a time, and a running one can be cancelled', async () => {
    const started = await hub(app, 'POST', '/checks', {});
    expect(started.status).toBe(202);
    const second = await hub(app, 'POST', '/checks', { only: ['signing'] });
    expect(second.status).toBe(409);
    expect(second.body.error).toBe('check_running');

    const cancel = await hub(app, 'DELETE', '/checks/latest');
    expect(cancel.status).toBe(202);
    const run = await waitForEnd(app);
    expect(run.state).toBe('cancelled');
    expect(run.ok).toBe(false);
    // Everything not run before the cancel is reported as skipped, not as passed.
    expect(run.results.some((r) => r.status === 'skip')).toBe(true);

    const again = await hub(app, 'DELETE', '/checks/latest');
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('check_not_running');
  });

  it('refuses selectors that name no check and malformed bodies, with the field', async () => {
    const unknown = await hub(app, 'POST', '/checks', { only: ['signing', 'no-such-check'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ error: 'invalid_field', field: 'only' });
    expect(unknown.body.message).toContain('no-such-check');

    const notList = await hub(app, 'POST', '/checks', { skip: 'signing' });
    expect(notList.status).toBe(400);
    expect(notList.body).toMatchObject({ error: 'invalid_field', field: 'skip' });

    const extra = await hub(app, 'POST', '/checks', { url: 'http://example.com/' });
    expect(extra.status).toBe(400);
    // Nothing started: the URL is always the emulator's own webhook URL.
    expect((await hub(app, 'GET', '/checks/latest')).status).toBe(404);
  });
});
