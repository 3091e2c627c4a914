// Builds a real app on a temporary SQLite file (or DATABASE_URL's PostgreSQL) for tests, with captured log lines.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import request from 'supertest';
import { createApp } from '../../src/app';
import { loadConfig, type Config, type Environment } from '../../src/config/index';
import { createLogger } from '../../src/server/logger';
import { signHeapHash } from '../../src/webhook/signature';
import { openStore } from '../../src/store';
import { SqliteStore } from '../../src/store/sqlite/store';
import type { DeliveryRecord, RefusalCount, Store } from '../../src/store/types';

export const TEST_SECRET = 'test-webhook-secret';

export type TestApp = {
  app: ReturnType<typeof createApp>;
  store: Store;
  config: Config;
  dataDir: string;
  logs: string[];
  close: () => Promise<void>;
};

export function tempDir(prefix = 'hpa-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function testConfig(env: Environment = {}, dataDir = tempDir()): Config {
  const loaded = loadConfig(
    { WEBHOOK_SECRET: TEST_SECRET, DATA_DIR: dataDir, LOG_LEVEL: 'debug', ...env },
    dataDir,
    { createMissingSecrets: true },
  );
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return loaded.config;
}

function logCapture(): { logs: string[]; sink: Writable } {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  return { logs, sink };
}

export function makeTestApp(env: Environment = {}, dataDir = tempDir()): TestApp {
  const config = testConfig(env, dataDir);
  const store = new SqliteStore({
    file: config.sqlite.file,
    busyTimeoutMs: config.sqlite.busyTimeoutMs,
  });
  return assemble(config, store, dataDir);
}

/** Like makeTestApp, with the store the server would open: PostgreSQL when DATABASE_URL is set. */
export async function openTestApp(env: Environment = {}, dataDir = tempDir()): Promise<TestApp> {
  const config = testConfig(env, dataDir);
  const capture = logCapture();
  const store = await openStore(config, createLogger(config.logLevel, capture.sink));
  return assemble(config, store, dataDir, capture);
}

function assemble(
  config: Config,
  store: Store,
  dataDir: string,
  { logs, sink } = logCapture(),
): TestApp {
  const app = createApp({ config, store, logger: createLogger(config.logLevel, sink) });
  return {
    app,
    store,
    config,
    dataDir,
    logs,
    close: async () => {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** POSTs a body (object → compact JSON, string → as is) signed with the given secret. */
export function signedPost(
  app: TestApp['app'],
  urlPath: string,
  body: unknown,
  options: { secret?: string; timestampMs?: number; header?: string } = {},
) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const header =
    options.header ??
    signHeapHash(options.secret ?? TEST_SECRET, raw, options.timestampMs ?? Date.now());
  return request(app)
    .post(urlPath)
    .set('Content-Type', 'application/json')
    .set('Heap-Hash', header)
    .send(raw);
}

let taskCounter = 0;

/** A sync page body in Heap's shape. */
export function syncBody(options: {
  idToken?: string;
  segmentId?: number;
  taskId?: string;
  page?: number;
  totalPages?: number;
  add?: string[];
  remove?: string[];
}) {
  return {
    ...(options.idToken === undefined ? {} : { id_token: options.idToken }),
    action_type: 'segment.users.sync',
    data: {
      segment: { id: options.segmentId ?? 42, name: 'Test segment' },
      sync_info: {
        page_number: options.page ?? 1,
        total_pages: options.totalPages ?? 1,
        sync_task_id: options.taskId ?? `task-${++taskCounter}`,
      },
      add: (options.add ?? []).map((id) => ({ id })),
      remove: (options.remove ?? []).map((id) => ({ id })),
    },
  };
}

export function drainBody(options: { idToken?: string; segmentId?: number } = {}) {
  return {
    ...(options.idToken === undefined ? {} : { id_token: options.idToken }),
    action_type: 'segment.users.drain',
    data: { segment: { id: options.segmentId ?? 42, name: 'Test segment' } },
  };
}

/** Every member of a segment, following the store's cursor. */
export async function allMembers(store: Store, tenant: string, segmentId: number) {
  const members: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listMembers(tenant, segmentId, { after, limit: 1000 });
    members.push(...page.items);
    if (!page.nextCursor) return members;
    after = page.nextCursor;
  }
}

/**
 * The newest `count` refused deliveries, once they are in the log. The router records refusals
 * without delaying the answer, so with a networked store the rows land just after the response.
 */
export async function loggedRejections(store: Store, count: number): Promise<DeliveryRecord[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const logged = await store.listDeliveries({ limit: count, status: 'rejected' });
    if (logged.length >= count || Date.now() > deadline) return logged;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The newest refused delivery, once it is in the log. */
export async function latestRejection(store: Store): Promise<DeliveryRecord | undefined> {
  return (await loggedRejections(store, 1))[0];
}

/** The refusals counted before signature verification, written out now (normally once a minute). */
export async function countedRefusals(store: Store): Promise<RefusalCount[]> {
  await store.flushRefusalCounts();
  return store.listRefusalCounts({ limit: 1000 });
}
