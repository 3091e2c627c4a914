// npm run soak [-- --quick]: the built server under a paced mixed load for 30 minutes (2 with --quick), judged on growth and on every acknowledged delivery.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import prettier from 'prettier';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { connectionKey } from '../src/admin/urlKeys';
import { buildDrain, buildSyncPage } from '../src/webhook/outgoing';
import { signHeapHash } from '../src/webhook/signature';
import {
  choosePostgres,
  placeDatabase,
  placeEnv,
  placeMaker,
  placeStoreBytes,
  type Place,
} from './backends';
import { percentile } from './load';
import { cpuMeter, machineFacts } from './machine';
import { procStatus, startListening, type Listening } from './processes';
import { jsonOf, SoakClient, type Answer } from './soakClient';
import {
  diffMembers,
  FeedTail,
  sameMembers,
  SoakModel,
  soakSegmentId,
  soakTenant,
  type FeedChange,
  type PlannedPage,
  type SoakShape,
} from './soakModel';
import { renderSoakMarkdown, type SoakResult } from './soakReport';
import {
  judgeGrowth,
  kindTotals,
  MinuteBucket,
  minuteRow,
  NO_ANSWER,
  serverErrors,
  type MinuteRow,
  type RequestKind,
} from './soakStats';

const SERVER_ENTRY = path.join(__dirname, '..', 'src', 'server', 'main.js');
const BENCH_DIR = path.join(__dirname, '..', '..', 'bench');
const MINUTE_MS = 60_000;

/**
 * The server's settings besides the defaults: the retention job every minute, and a 60 s
 * signature tolerance, so accepted signatures (replay keys) expire after 60 + 5 + 60 s margin and
 * every run of the job from minute 3 on deletes rows while the load goes on. The other tables'
 * retention is set in whole days (DELIVERIES_, SYNC_TASK_, CHANGES_RETENTION_DAYS, at least 1):
 * nothing of theirs is old enough in a soak, so they grow for its whole length.
 */
export const SOAK_SERVER_SETTINGS: Record<string, string> = {
  RETENTION_INTERVAL_MINUTES: '1',
  WEBHOOK_TOLERANCE_PAST_SECONDS: '60',
  WEBHOOK_TOLERANCE_FUTURE_SECONDS: '5',
};

/** The request mix besides sync pages, per second (drains: one every DRAIN_EVERY_SECONDS). */
export const SOAK_RATES: Partial<Record<RequestKind, number>> = {
  lookup: 20,
  members: 4,
  csv: 0.1,
  admin: 2,
  forgery: 2,
  replay: 1,
};
const DRAIN_EVERY_SECONDS = 30;
/** Sync pages and drains are sent at most this many times before the soak gives up on one. */
const MAX_ATTEMPTS = 5;
/** The change feed is read this many entries a request, as a consumer would. */
const FEED_PAGE = 200;

const SHAPE: SoakShape = {
  seed: 15,
  tenants: 8,
  segmentsPerTenant: 8,
  usersPerTenant: 30_000,
  usersPerPage: 100,
  maxPagesPerTask: 5,
  targetSize: 5_000,
};

type Options = {
  seconds: number;
  capacitySeconds: number;
  load: number;
  connections: number;
  backend: 'sqlite' | 'postgres';
  quick: boolean;
  out: string;
  json: string;
  keep: boolean;
};

/** A signed request the server acknowledged, kept a little while to be replayed. */
type Sent = { body: Buffer; heapHash: string; at: number };

class Soak {
  readonly model = new SoakModel(SHAPE);
  readonly feed = new FeedTail();
  readonly buckets: MinuteBucket[] = [];
  readonly rows: MinuteRow[] = [];
  readonly problems: string[] = [];
  readonly counts = {
    applied: 0,
    duplicateAcks: 0,
    retried: 0,
    deferredPages: 0,
    deferredDrains: 0,
    drains: 0,
    forgeriesRefused: 0,
    replaysRefused: 0,
    retentionRuns: 0,
  };
  readonly retentionDeleted: Record<string, number> = {};
  private readonly recent: Sent[] = [];
  private readonly pending = new Set<Promise<void>>();
  private lastAuditId = 0;
  private logOffset = 0;
  /** Every run of the retention job, from the server's log (runs that delete nothing too). */
  readonly retentionRuns: { at: string; ms: number; deleted: Record<string, number> }[] = [];
  /** Unset before the load (the capacity phase is not in the minutes). */
  loadStartedAt: number | undefined;
  capacityAcked = 0;

  constructor(
    readonly client: SoakClient,
    readonly secret: string,
    readonly server: Listening,
    readonly place: Place,
  ) {}

  private record(kind: RequestKind, answer: Answer): void {
    if (this.loadStartedAt === undefined) return;
    const minute = Math.floor((performance.now() - this.loadStartedAt) / MINUTE_MS);
    while (this.buckets.length <= minute) this.buckets.push(new MinuteBucket());
    this.buckets[minute].record(kind, answer.status, answer.ms);
    if (answer.status >= 500 && answer.status !== 503) {
      this.problems.push(`${kind}: ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`);
    }
    if (answer.status === NO_ANSWER) this.problems.push(`${kind}: no answer (${answer.error})`);
  }

  /** Runs `work` without awaiting it, but awaited by `settle`. */
  spawn(work: () => Promise<void>): void {
    const promise = work()
      .catch((error: unknown) => {
        this.problems.push(`harness: ${(error as Error).stack ?? String(error)}`);
      })
      .finally(() => this.pending.delete(promise));
    this.pending.add(promise);
  }

  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline) {
      await Promise.race([...this.pending, sleep(1000)]);
    }
    if (this.pending.size > 0) {
      this.problems.push(
        `${this.pending.size} requests still unanswered ${timeoutMs / 1000} s after the load stopped`,
      );
    }
  }

  private pageBody(page: PlannedPage): Buffer {
    const t = Math.floor(page.g / SHAPE.segmentsPerTenant);
    const id = (u: number) => this.model.userId(t, u);
    return Buffer.from(
      JSON.stringify(
        buildSyncPage({
          idToken: soakTenant(t),
          segment: {
            id: soakSegmentId(page.g),
            name: `Soak ${t}/${page.g % SHAPE.segmentsPerTenant}`,
          },
          syncTaskId: page.taskId,
          pageNumber: page.pageNumber,
          totalPages: page.totalPages,
          add: page.add.map(id),
          remove: page.remove.map(id),
          customerConfig: { matching_property: 'email' },
        }),
      ),
    );
  }

  private post(body: Buffer, heapHash: string | undefined): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (heapHash !== undefined) headers['heap-hash'] = heapHash;
    return this.client.request('POST', '/webhook', { headers, body });
  }

  /**
   * Sends a delivery until the server acknowledges it (200), re-signed each time as Heap does;
   * a 200 `duplicate` after a failed attempt means the earlier one was committed. Gives up after
   * MAX_ATTEMPTS, leaving the segment unchecked (its outcome is unknown).
   */
  private async deliver(
    kind: 'sync' | 'drain',
    g: number,
    body: Buffer,
    acknowledge: () => void,
  ): Promise<boolean> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const heapHash = signHeapHash(this.secret, body);
      const answer = await this.post(body, heapHash);
      this.record(kind, answer);
      if (answer.status === 200) {
        const status = jsonOf<{ status?: string }>(answer)?.status;
        if (status === 'applied') this.counts.applied++;
        else if (attempt === 1) {
          this.problems.push(
            `${kind} to segment ${soakSegmentId(g)}: a first attempt was answered ${status}`,
          );
        } else this.counts.duplicateAcks++;
        acknowledge();
        this.recent.push({ body, heapHash, at: Date.now() });
        if (this.recent.length > 200) this.recent.shift();
        return true;
      }
      if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
        this.problems.push(
          `${kind} to segment ${soakSegmentId(g)} refused: ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`,
        );
        break;
      }
      this.counts.retried++;
      await sleep(250 * attempt);
    }
    this.model.giveUp(g);
    this.problems.push(
      `${kind} to segment ${soakSegmentId(g)} never acknowledged: the segment is not checked`,
    );
    return false;
  }

  async sendPage(page: PlannedPage): Promise<boolean> {
    return this.deliver('sync', page.g, this.pageBody(page), () =>
      this.model.acknowledgePage(page),
    );
  }

  /** One scheduled sync page: the next page of a task in progress, or a new task. */
  syncPage(): void {
    const page = this.model.nextPage();
    if (!page) {
      this.counts.deferredPages++;
      return;
    }
    this.spawn(async () => {
      await this.sendPage(page);
    });
  }

  drain(): void {
    const segment = this.model.drainTarget();
    if (!segment) {
      this.counts.deferredDrains++;
      return;
    }
    const t = segment.tenant;
    const body = Buffer.from(
      JSON.stringify(
        buildDrain({
          idToken: soakTenant(t),
          segment: {
            id: soakSegmentId(segment.g),
            name: `Soak ${t}/${segment.g % SHAPE.segmentsPerTenant}`,
          },
        }),
      ),
    );
    this.counts.drains++;
    this.spawn(async () => {
      await this.deliver('drain', segment.g, body, () => this.model.acknowledgeDrain(segment.g));
    });
  }

  private randomTenant(): number {
    return this.model.pick(SHAPE.tenants);
  }

  private key(t: number): string {
    return encodeURIComponent(connectionKey(soakTenant(t)));
  }

  lookup(): void {
    const t = this.randomTenant();
    const user = encodeURIComponent(this.model.userId(t, this.model.pick(SHAPE.usersPerTenant)));
    this.spawn(async () => {
      this.record(
        'lookup',
        await this.client.admin(`/api/connections/${this.key(t)}/users/${user}/segments`),
      );
    });
  }

  private walker: { g: number; cursor: string | null } = { g: 0, cursor: null };

  /** The next page of a member walk: a consumer paging through one segment, then another. */
  members(): void {
    if (this.walker.cursor === null) this.walker.g = this.model.pickStored();
    const { g, cursor } = this.walker;
    const t = Math.floor(g / SHAPE.segmentsPerTenant);
    const query = `limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
    this.spawn(async () => {
      const answer = await this.client.admin(
        `/api/connections/${this.key(t)}/segments/${soakSegmentId(g)}/members?${query}`,
      );
      this.record('members', answer);
      if (this.walker.g === g) {
        this.walker.cursor = jsonOf<{ next_cursor?: string | null }>(answer)?.next_cursor ?? null;
      }
    });
  }

  csv(): void {
    const g = this.model.pickStored();
    const t = Math.floor(g / SHAPE.segmentsPerTenant);
    this.spawn(async () => {
      const answer = await this.client.admin(
        `/api/connections/${this.key(t)}/segments/${soakSegmentId(g)}/members.csv`,
      );
      this.record('csv', answer);
      if (answer.status === 200 && !answer.body.toString('utf8').startsWith('user_id\r\n')) {
        this.problems.push(
          `csv export of segment ${soakSegmentId(g)} does not start with its header`,
        );
      }
    });
  }

  private adminTurn = 0;

  /** The dashboard's and an operator's reads, in turn. */
  admin(): void {
    const g = this.model.pickStored();
    const t = Math.floor(g / SHAPE.segmentsPerTenant);
    const sid = soakSegmentId(g);
    const paths = [
      '/api/overview',
      '/api/segments',
      `/api/connections/${this.key(t)}/segments`,
      '/api/deliveries?limit=50',
      '/api/refusals',
      '/api/audit?limit=20',
      '/readyz',
      '/api/connections',
      `/api/connections/${this.key(t)}/segments/${sid}/sync-tasks`,
      `/api/connections/${this.key(t)}/segments/${sid}/size-history`,
    ];
    const turn = this.adminTurn++ % paths.length;
    const target = paths[turn];
    // By route (the segment's ids replaced), so a slow one can be named.
    const route = target
      .replace(`/${this.key(t)}/`, '/{connection}/')
      .replace(`/${sid}/`, '/{segment_id}/');
    this.spawn(async () => {
      const answer = await this.client.admin(target);
      this.record('admin', answer);
      if (this.loadStartedAt === undefined) return;
      const times = this.adminRoutes.get(route) ?? [];
      times.push(answer.ms);
      this.adminRoutes.set(route, times);
    });
  }

  /** Latencies of each admin route read during the load, for the report's breakdown. */
  readonly adminRoutes = new Map<string, number[]>();

  private forgeryTurn = 0;

  /**
   * A request an attacker on the network could send, aimed at a real segment (adding strangers,
   * removing real members), in turn: signed with a wrong secret; a real signature over another
   * body; no Heap-Hash; correctly signed but 10 minutes old. Each must be refused (401/403);
   * the final membership check shows it changed nothing.
   */
  forgery(): void {
    const g = this.model.pick(this.model.segments.length);
    const segment = this.model.segments[g];
    const t = segment.tenant;
    const victim = segment.members.size > 0 ? [segment.members.at(0)] : [];
    const page = (add: string[]) =>
      Buffer.from(
        JSON.stringify(
          buildSyncPage({
            idToken: soakTenant(t),
            segment: { id: soakSegmentId(g), name: `Soak ${t}/${g % SHAPE.segmentsPerTenant}` },
            syncTaskId: `forged-${this.forgeryTurn}`,
            pageNumber: 1,
            totalPages: 1,
            add,
            remove: victim.map((u) => this.model.userId(t, u)),
          }),
        ),
      );
    const genuine = page([]);
    const forged = page([`forged-${this.forgeryTurn}@evil.example`]);
    const turn = this.forgeryTurn++ % 4;
    const heapHash = [
      () => signHeapHash(`not-${this.secret}`, forged),
      () => signHeapHash(this.secret, genuine),
      () => undefined,
      () => signHeapHash(this.secret, forged, Date.now() - 600_000),
    ][turn]();
    this.spawn(async () => {
      const answer = await this.post(forged, heapHash);
      this.record('forgery', answer);
      if (answer.status === 401 || answer.status === 403) this.counts.forgeriesRefused++;
      else {
        this.problems.push(
          `a forged request (kind ${turn}) was answered ${answer.status}: ${answer.body.toString('utf8').slice(0, 200)}`,
        );
      }
    });
  }

  /** An exact replay of a request acknowledged in the last 30 s: must be a duplicate. */
  replay(): void {
    const fresh = this.recent.filter((sent) => Date.now() - sent.at < 30_000);
    if (fresh.length === 0) return;
    const sent = fresh[this.model.pick(fresh.length)];
    this.spawn(async () => {
      const answer = await this.post(sent.body, sent.heapHash);
      this.record('replay', answer);
      const status = jsonOf<{ status?: string }>(answer)?.status;
      if (answer.status === 200 && status === 'duplicate') this.counts.replaysRefused++;
      else {
        this.problems.push(
          `a replayed request was answered ${answer.status} ${status ?? answer.body.toString('utf8').slice(0, 200)}`,
        );
      }
    });
  }

  /** Reads the change feed from `feed.after` on, until it answers fewer than a page. */
  async readFeed(): Promise<number> {
    const answer = await this.client.admin(
      `/api/changes?after=${this.feed.after}&limit=${FEED_PAGE}`,
    );
    this.record('changes', answer);
    if (answer.status !== 200) {
      this.problems.push(
        `change feed after ${this.feed.after}: ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`,
      );
      return 0;
    }
    const page = jsonOf<{ changes: FeedChange[] }>(answer);
    this.feed.accept(page?.changes ?? []);
    return page?.changes.length ?? 0;
  }

  /** A consumer tailing the feed: reads while there is more, else polls every 200 ms. */
  async tailFeed(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      if ((await this.readFeed()) < FEED_PAGE) await sleep(200);
    }
  }

  /** Rows the retention job deleted since the last call, from the admin audit log. */
  async retentionSince(): Promise<number> {
    const answer = await this.client.admin('/api/audit?event=retention_run&limit=100');
    this.record('admin', answer);
    type Entry = { id: number; detail: Record<string, unknown> };
    const entries = jsonOf<{ entries: Entry[] }>(answer)?.entries ?? [];
    let deleted = 0;
    for (const entry of entries.filter((e) => e.id > this.lastAuditId)) {
      this.counts.retentionRuns++;
      for (const [table, rows] of Object.entries(entry.detail)) {
        if (typeof rows !== 'number') continue;
        this.retentionDeleted[table] = (this.retentionDeleted[table] ?? 0) + rows;
        deleted += rows;
      }
    }
    this.lastAuditId = Math.max(this.lastAuditId, ...entries.map((e) => e.id));
    return deleted;
  }

  /** Reads the server log's new lines for the retention job's one line a run. */
  readRetentionLog(): void {
    const file = path.join(this.place.dataDir, 'server.log');
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= this.logOffset) return;
      const buffer = Buffer.alloc(size - this.logOffset);
      readSync(fd, buffer, 0, buffer.length, this.logOffset);
      const text = buffer.toString('utf8');
      const complete = text.lastIndexOf('\n') + 1;
      this.logOffset += Buffer.byteLength(text.slice(0, complete));
      for (const line of text.slice(0, complete).split('\n')) {
        if (!line.includes('retention: deleted expired rows')) continue;
        const entry = JSON.parse(line) as {
          time?: number | string;
          ms: number;
          deleted: Record<string, number>;
        };
        this.retentionRuns.push({
          at: new Date(entry.time ?? Date.now()).toISOString(),
          ms: entry.ms,
          deleted: entry.deleted,
        });
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Figures sampled at a minute's end, and that minute's row. */
  private cpu: ReturnType<typeof cpuMeter> | undefined;

  /** Starts the CPU meter the first minute's sample reads. */
  startCpuMeter(): void {
    this.cpu = cpuMeter([this.server.pid]);
  }

  async sampleMinute(minute: number): Promise<void> {
    const status = procStatus(this.server.pid);
    const loadAverage = os.loadavg()[0];
    const shares = this.cpu?.stop();
    this.cpu = cpuMeter([this.server.pid]);
    const cpu = shares && { server: shares.target, others: shares.foreign, stolen: shares.stolen };
    const memberships = this.model.memberships();
    const database = placeDatabase(this.place);
    let storeMb: number;
    let walMb: number | undefined;
    if ('file' in database) {
      const size = (file: string) => {
        try {
          return statSync(file).size / 1e6;
        } catch {
          return 0;
        }
      };
      storeMb = size(database.file);
      walMb = size(`${database.file}-wal`);
    } else storeMb = (await placeStoreBytes(this.place)) / 1e6;
    const retentionDeleted = await this.retentionSince();
    this.readRetentionLog();
    const row = minuteRow(minute, this.buckets[minute] ?? new MinuteBucket(), {
      rssMb: status ? (status.rssKb * 1024) / 1e6 : NaN,
      storeMb,
      walMb,
      loadAverage,
      cpu,
      retentionDeleted,
      memberships,
    });
    this.rows.push(row);
    const kinds = Object.entries(row.p99ByKind)
      .map(([kind, ms]) => `${kind} ${(ms ?? NaN).toFixed(1)}`)
      .join(', ');
    process.stderr.write(
      `soak: minute ${minute + 1}: ${row.requests} requests ${JSON.stringify(row.statuses)}, p99 ${row.p99Ms.toFixed(1)} ms (${kinds}), ` +
        `RSS ${row.rssMb.toFixed(0)} MB, store ${storeMb.toFixed(0)} MB${walMb === undefined ? '' : `, WAL ${walMb.toFixed(1)} MB`}, ` +
        `retention deleted ${retentionDeleted}, load ${loadAverage.toFixed(2)}` +
        (cpu
          ? `, CPU cores: server ${cpu.server.toFixed(2)}, others ${cpu.others.toFixed(2)}, stolen ${cpu.stolen.toFixed(2)}`
          : '') +
        '\n',
    );
  }
}

/** Closed loop: `connections` sync pages in flight for `seconds`; acknowledged pages per second. */
async function measureCapacity(soak: Soak, connections: number, seconds: number): Promise<number> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let acked = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const page = soak.model.nextPage();
      if (!page) {
        await sleep(2);
        continue;
      }
      if (await soak.sendPage(page)) acked++;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  soak.capacityAcked = acked;
  return acked / ((performance.now() - started) / 1000);
}

/** The mixed load, paced (open loop): every stream sends what fell due, answered or not. */
async function runMixedLoad(soak: Soak, pagesPerSec: number, seconds: number): Promise<void> {
  const streams: { rate: number; fire: () => void; sent: number }[] = [
    { rate: pagesPerSec, fire: () => soak.syncPage(), sent: 0 },
    { rate: 1 / DRAIN_EVERY_SECONDS, fire: () => soak.drain(), sent: 0 },
    { rate: SOAK_RATES.lookup ?? 0, fire: () => soak.lookup(), sent: 0 },
    { rate: SOAK_RATES.members ?? 0, fire: () => soak.members(), sent: 0 },
    { rate: SOAK_RATES.csv ?? 0, fire: () => soak.csv(), sent: 0 },
    { rate: SOAK_RATES.admin ?? 0, fire: () => soak.admin(), sent: 0 },
    { rate: SOAK_RATES.forgery ?? 0, fire: () => soak.forgery(), sent: 0 },
    { rate: SOAK_RATES.replay ?? 0, fire: () => soak.replay(), sent: 0 },
  ];
  let stopped = false;
  const started = performance.now();
  soak.loadStartedAt = started;
  soak.startCpuMeter();
  const tail = soak.tailFeed(() => stopped);
  const samples: Promise<void>[] = [];
  let sampled = 0;
  while (performance.now() - started < seconds * 1000) {
    const elapsed = (performance.now() - started) / 1000;
    for (const stream of streams) {
      // The first of each stream goes out at its start; of a rarer one, half a period in.
      const due = Math.floor(elapsed * stream.rate + (stream.rate >= 1 ? 1 : 0.5));
      for (; stream.sent < due; stream.sent++) stream.fire();
    }
    const minute = Math.floor(elapsed / 60);
    if (minute > sampled) samples.push(soak.sampleMinute(sampled++));
    await sleep(5);
  }
  stopped = true;
  await Promise.all(samples);
  await soak.settle(120_000);
  await tail;
  // The last whole minute, and answers that came after the load's end (a partial minute).
  while (sampled < soak.buckets.length) await soak.sampleMinute(sampled++);
}

/** After the load: the feed read to its end, every segment and a sample of users checked. */
async function verify(soak: Soak): Promise<SoakResult['checks']> {
  const { client, model, problems } = soak;
  while ((await soak.readFeed()) === FEED_PAGE);
  let segmentsChecked = 0;
  let membershipsChecked = 0;
  let uncertain = 0;
  for (const segment of model.segments) {
    if (!segment.touched) continue;
    if (segment.uncertain) {
      uncertain++;
      continue;
    }
    const t = segment.tenant;
    const key = connectionKey(soakTenant(t));
    const sid = soakSegmentId(segment.g);
    const actual: string[] = [];
    let cursor: string | null = null;
    do {
      const answer = await client.admin(
        `/api/connections/${encodeURIComponent(key)}/segments/${sid}/members?limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
      );
      if (answer.status !== 200) {
        problems.push(
          `members of segment ${sid}: ${answer.status} ${answer.body.toString('utf8').slice(0, 200)}`,
        );
        break;
      }
      const page = jsonOf<{ members: string[]; next_cursor: string | null }>(answer);
      actual.push(...(page?.members ?? []));
      cursor = page?.next_cursor ?? null;
    } while (cursor);
    const expected = model.expectedIds(segment.g);
    const diff = diffMembers(expected, actual);
    if (!sameMembers(diff)) {
      problems.push(
        `segment ${sid} (${key}): the server holds ${actual.length}, the acknowledged deliveries make ${expected.size}; ` +
          `${diff.missing} acknowledged member(s) missing ${JSON.stringify(diff.missingSample)}, ` +
          `${diff.unexpected} unexpected ${JSON.stringify(diff.unexpectedSample)}, ${diff.repeated} listed twice`,
      );
    }
    const fromFeed = diffMembers(expected, soak.feed.membersOf(key, sid));
    if (!sameMembers(fromFeed)) {
      problems.push(
        `segment ${sid} (${key}): the change feed, replayed, differs from the acknowledged deliveries: ` +
          `${fromFeed.missing} missing ${JSON.stringify(fromFeed.missingSample)}, ${fromFeed.unexpected} unexpected ${JSON.stringify(fromFeed.unexpectedSample)}`,
      );
    }
    segmentsChecked++;
    membershipsChecked += expected.size;
  }
  // member_count as the segment lists report it.
  for (let t = 0; t < SHAPE.tenants; t++) {
    const answer = await client.admin(
      `/api/connections/${encodeURIComponent(connectionKey(soakTenant(t)))}/segments`,
    );
    type Listed = { segment_id: number; member_count: number };
    for (const listed of jsonOf<{ segments: Listed[] }>(answer)?.segments ?? []) {
      const g = listed.segment_id - soakSegmentId(0);
      const segment = model.segments[g];
      if (!segment || segment.uncertain) continue;
      if (listed.member_count !== segment.members.size) {
        problems.push(
          `segment ${listed.segment_id}: member_count ${listed.member_count}, expected ${segment.members.size}`,
        );
      }
    }
  }
  // The user → segments index, for a sample of users.
  const LOOKUPS = 300;
  let lookupsChecked = 0;
  for (let i = 0; i < LOOKUPS; i++) {
    const t = model.pick(SHAPE.tenants);
    // Half the sample from real members, so most answers are not empty.
    const g = t * SHAPE.segmentsPerTenant + model.pick(SHAPE.segmentsPerTenant);
    const members = model.segments[g].members;
    const u =
      i % 2 === 0 && members.size > 0
        ? members.at(model.pick(members.size))
        : model.pick(SHAPE.usersPerTenant);
    const segmentsOfTenant = model.segments.slice(
      t * SHAPE.segmentsPerTenant,
      (t + 1) * SHAPE.segmentsPerTenant,
    );
    if (segmentsOfTenant.some((s) => s.uncertain)) continue;
    const id = model.userId(t, u);
    const answer = await client.admin(
      `/api/connections/${encodeURIComponent(connectionKey(soakTenant(t)))}/users/${encodeURIComponent(id)}/segments`,
    );
    const got = (jsonOf<{ segments: { segment_id: number }[] }>(answer)?.segments ?? [])
      .map((s) => s.segment_id)
      .sort((a, b) => a - b);
    const expected = model.expectedSegmentsOf(t, u);
    if (answer.status !== 200 || JSON.stringify(got) !== JSON.stringify(expected)) {
      problems.push(
        `user ${id}: the server says segments ${JSON.stringify(got)} (${answer.status}), expected ${JSON.stringify(expected)}`,
      );
    }
    lookupsChecked++;
  }
  problems.push(...soak.feed.problems);
  await soak.retentionSince();
  soak.readRetentionLog();
  return {
    segmentsChecked,
    membershipsChecked,
    uncertainSegments: uncertain,
    lookupsChecked,
    feedEntries: soak.feed.entries,
    feedLastSeq: soak.feed.after,
  };
}

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run soak --')
    .usage('$0 [--quick] [--minutes 30] [--backend sqlite|postgres]')
    .option('quick', {
      type: 'boolean',
      default: false,
      describe:
        'CI mode: 2 minutes; reports the same tables, judges no growth (correctness still fails it)',
    })
    .option('minutes', {
      type: 'number',
      describe: 'Length of the mixed load (default 30, 2 with --quick)',
    })
    .option('seconds', { type: 'number', describe: 'Length of the mixed load in seconds (tests)' })
    .option('capacity-seconds', {
      type: 'number',
      describe: 'Closed-loop capacity measurement (default 20, 5 with --quick)',
    })
    .option('load', {
      type: 'number',
      default: 0.7,
      describe: 'Sync pages per second as a share of the measured capacity',
    })
    .option('connections', {
      type: 'number',
      default: 10,
      describe: 'Pages in flight while capacity is measured',
    })
    .option('backend', { choices: ['sqlite', 'postgres'] as const, default: 'sqlite' as const })
    .option('out', {
      type: 'string',
      describe: 'Where to write the markdown report (default bench/out/SOAK.md)',
    })
    .option('json', {
      type: 'string',
      describe: 'Where to write the JSON report (default: --out with .json)',
    })
    .option('keep', { type: 'boolean', default: false, describe: 'Keep the data directory' })
    .strict()
    .help()
    .parse();
  const quick = argv.quick;
  const out = argv.out ?? path.join(BENCH_DIR, 'out', 'SOAK.md');
  const options: Options = {
    quick,
    seconds: argv.seconds ?? (argv.minutes ?? (quick ? 2 : 30)) * 60,
    capacitySeconds: argv.capacitySeconds ?? (quick ? 5 : 20),
    load: argv.load,
    connections: argv.connections,
    backend: argv.backend,
    out,
    json: argv.json ?? out.replace(/\.md$/, '') + '.json',
    keep: argv.keep,
  };

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'hpa-soak-'));
  const facts = machineFacts(workDir);
  const postgres = await choosePostgres(options.backend === 'postgres');
  if (options.backend === 'postgres' && !postgres.backend)
    throw new Error(`PostgreSQL: ${postgres.skipped}`);
  const places = placeMaker(postgres.backend ?? { kind: 'sqlite' }, workDir);
  const secret = randomBytes(32).toString('base64url');
  const adminToken = randomBytes(32).toString('base64url');
  let result: SoakResult;
  try {
    const place = await places.fresh('soak');
    const server = await startListening(
      SERVER_ENTRY,
      {
        ...placeEnv(place),
        WEBHOOK_SECRET: secret,
        ADMIN_TOKEN: adminToken,
        ...SOAK_SERVER_SETTINGS,
      },
      path.join(place.dataDir, 'server.log'),
    );
    const client = new SoakClient(server.url, adminToken);
    const soak = new Soak(client, secret, server, place);
    try {
      const startRssMb = ((procStatus(server.pid)?.rssKb ?? NaN) * 1024) / 1e6;
      process.stderr.write(
        `soak: measuring capacity for ${options.capacitySeconds} s (${options.connections} pages in flight)…\n`,
      );
      const capacity = await measureCapacity(soak, options.connections, options.capacitySeconds);
      const pagesPerSec = capacity * options.load;
      process.stderr.write(
        `soak: capacity ${capacity.toFixed(1)} pages/s; mixed load for ${options.seconds} s at ${pagesPerSec.toFixed(1)} pages/s…\n`,
      );
      const loadAverageBefore = os.loadavg();
      await runMixedLoad(soak, pagesPerSec, options.seconds);
      const checks = await verify(soak);
      soak.rows.sort((a, b) => a.minute - b.minute);
      const wholeMinutes = Math.floor(options.seconds / 60);
      const growth = judgeGrowth(
        soak.rows.slice(0, wholeMinutes),
        soak.buckets.slice(0, wholeMinutes),
      );
      const errors = serverErrors(soak.rows);
      result = {
        command: `npm run soak${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
        quick,
        facts,
        backend: postgres.backend ? (postgres.description ?? 'PostgreSQL') : 'SQLite',
        settings: SOAK_SERVER_SETTINGS,
        shape: SHAPE,
        rates: { ...SOAK_RATES, drain: 1 / DRAIN_EVERY_SECONDS, sync: pagesPerSec },
        seconds: options.seconds,
        capacity: {
          pagesPerSec: capacity,
          seconds: options.capacitySeconds,
          connections: options.connections,
          acked: soak.capacityAcked,
        },
        load: options.load,
        loadAverageBefore,
        startRssMb,
        peakRssMb: ((procStatus(server.pid)?.hwmKb ?? NaN) * 1024) / 1e6,
        rows: soak.rows,
        totals: kindTotals(soak.buckets),
        counts: { ...soak.counts, resentOnReusedSocket: client.resentOnReusedSocket },
        retentionDeleted: soak.retentionDeleted,
        retentionRuns: soak.retentionRuns,
        adminRoutes: [...soak.adminRoutes].map(([route, times]) => {
          const sorted = [...times].sort((a, b) => a - b);
          return {
            route,
            requests: sorted.length,
            p50Ms: percentile(sorted, 50),
            p99Ms: percentile(sorted, 99),
            maxMs: sorted[sorted.length - 1],
          };
        }),
        checks,
        growth,
        serverErrors: errors,
        problems: soak.problems,
        pass: false,
      };
      const correct = soak.problems.length === 0;
      result.pass = correct && (quick || !growth.judged || growth.pass);
    } finally {
      client.close();
      await server.stop();
    }
  } finally {
    await places.cleanUp();
    if ('cluster' in postgres) postgres.cluster?.destroy();
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
  }

  mkdirSync(path.dirname(options.out), { recursive: true });
  const markdown = renderSoakMarkdown(result);
  writeFileSync(
    options.out,
    await prettier.format(markdown, {
      ...(await prettier.resolveConfig(options.out)),
      filepath: options.out,
    }),
  );
  writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(
    `${markdown}\nwrote ${path.relative(process.cwd(), options.out)} and ${path.relative(process.cwd(), options.json)}\n`,
  );
  if (!result.pass) {
    process.stderr.write('soak: FAILED\n');
    for (const problem of result.problems.slice(0, 50)) process.stderr.write(`  ${problem}\n`);
    if (result.growth.judged) {
      for (const check of result.growth.checks.filter((c) => !c.pass)) {
        process.stderr.write(
          `  growth: ${check.what} ${check.baseline.toFixed(1)} → ${check.last.toFixed(1)} (×${check.ratio.toFixed(2)})\n`,
        );
      }
    }
    return 1;
  }
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`soak failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
