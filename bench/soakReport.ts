// The soak's report: what ran, the per-minute table, the totals, the growth judgement and every correctness check, as markdown.
import type { MachineFacts } from './machine';
import type { SoakShape } from './soakModel';
import {
  REQUEST_KINDS,
  type GrowthJudgement,
  type KindTotal,
  type MinuteRow,
  type RequestKind,
} from './soakStats';

export type SoakResult = {
  command: string;
  quick: boolean;
  facts: MachineFacts;
  backend: string;
  settings: Record<string, string>;
  shape: SoakShape;
  /** Requests per second of each kind (sync: the paced page rate). */
  rates: Partial<Record<RequestKind, number>>;
  seconds: number;
  capacity: { pagesPerSec: number; seconds: number; connections: number; acked: number };
  load: number;
  loadAverageBefore: number[];
  startRssMb: number;
  peakRssMb: number;
  rows: MinuteRow[];
  totals: KindTotal[];
  counts: Record<string, number>;
  retentionDeleted: Record<string, number>;
  /** Every run of the retention job the server logged. */
  retentionRuns: { at: string; ms: number; deleted: Record<string, number> }[];
  /** The admin reads by route. */
  adminRoutes: { route: string; requests: number; p50Ms: number; p99Ms: number; maxMs: number }[];
  checks: {
    segmentsChecked: number;
    membershipsChecked: number;
    uncertainSegments: number;
    lookupsChecked: number;
    feedEntries: number;
    feedLastSeq: number;
  };
  growth: GrowthJudgement;
  serverErrors: Record<string, number>;
  problems: string[];
  pass: boolean;
};

const fixed = (value: number | undefined, digits = 1) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);

const statuses = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([status, n]) => `${status === '0' ? 'no answer' : status}: ${n}`)
    .join(', ');

function minuteTable(rows: MinuteRow[]): string[] {
  const kinds = REQUEST_KINDS.filter((kind) => rows.some((r) => r.countByKind[kind]));
  const head = [
    'Minute',
    'Requests',
    'Statuses',
    'p99 all (ms)',
    ...kinds.map((k) => `p99 ${k}`),
    'RSS (MB)',
    'Store (MB)',
    'WAL (MB)',
    'Memberships',
    'Retention deleted',
    'Load avg',
    'CPU server / others / stolen (cores)',
  ];
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => ' --- ').join('|')}|`,
    ...rows.map(
      (r) =>
        `| ${[
          r.minute + 1,
          r.requests,
          statuses(r.statuses),
          fixed(r.p99Ms),
          ...kinds.map((k) => fixed(r.p99ByKind[k])),
          fixed(r.rssMb, 0),
          fixed(r.storeMb, 0),
          fixed(r.walMb),
          r.memberships.toLocaleString('en-US'),
          r.retentionDeleted,
          fixed(r.loadAverage, 2),
          r.cpu
            ? `${fixed(r.cpu.server, 2)} / ${fixed(r.cpu.others, 2)} / ${fixed(r.cpu.stolen, 2)}`
            : '–',
        ].join(' | ')} |`,
    ),
  ];
}

function totalsTable(totals: KindTotal[]): string[] {
  return [
    '| Kind | Requests | Statuses | p50 (ms) | p99 (ms) | max (ms) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...totals.map(
      (t) =>
        `| ${t.kind} | ${t.requests} | ${statuses(t.statuses)} | ${fixed(t.p50Ms, 2)} | ${fixed(t.p99Ms, 2)} | ${fixed(t.maxMs)} |`,
    ),
  ];
}

export function renderSoakMarkdown(result: SoakResult): string {
  const { facts, capacity, checks, growth } = result;
  const rates = Object.entries(result.rates)
    .map(([kind, rate]) => `${kind} ${fixed(rate, rate !== undefined && rate < 1 ? 3 : 1)}/s`)
    .join(', ');
  const retention = Object.entries(result.retentionDeleted)
    .filter(([, rows]) => rows > 0)
    .map(([table, rows]) => `${table} ${rows.toLocaleString('en-US')}`)
    .join(', ');
  const lines = [
    `# Soak: ${result.pass ? 'PASS' : 'FAIL'}`,
    '',
    `\`${result.command}\` on ${facts.date}: ${facts.cpus}, ${facts.memoryGb} GB, ${facts.os}, Node ${facts.node}, ` +
      `SQLite ${facts.sqlite}, ${facts.disk} (a durable 4 KiB write: p50 ${facts.sync.p50Ms.toFixed(2)} ms, p99 ${facts.sync.p99Ms.toFixed(2)} ms). Load average before: ${result.loadAverageBefore.map((l) => l.toFixed(2)).join(', ')}.`,
    '',
    '## What ran',
    '',
    `- Store: ${result.backend}; the built server (\`node dist/src/server/main.js\`) as its own process, ` +
      'default durable configuration, a fresh DATA_DIR, WEBHOOK_SECRET and ADMIN_TOKEN set, plus ' +
      `${Object.entries(result.settings)
        .map(([k, v]) => `\`${k}=${v}\``)
        .join(', ')} (the retention job runs every minute and deletes expired replay keys).`,
    `- Capacity: ${fixed(capacity.pagesPerSec)} sync pages/s (${capacity.acked} pages acknowledged in ` +
      `${capacity.seconds} s, closed loop, ${capacity.connections} in flight, ${result.shape.usersPerPage}-user pages).`,
    `- Mixed load for ${result.seconds} s, paced (open loop): ${rates}; sync pages at ${Math.round(result.load * 100)} % ` +
      'of the capacity. A consumer tails the change feed throughout.',
    `- Workload: ${result.shape.tenants} tenants × ${result.shape.segmentsPerTenant} segments, ` +
      `${result.shape.usersPerTenant.toLocaleString('en-US')} e-mail-like users per tenant, segments grow to ` +
      `${result.shape.targetSize.toLocaleString('en-US')} members then churn (half of each page removes real members), ` +
      `tasks of 1–${result.shape.maxPagesPerTask} pages.`,
    `- Server RSS: ${fixed(result.startRssMb, 0)} MB at start, peak ${fixed(result.peakRssMb, 0)} MB.`,
    '',
    '## Every minute',
    '',
    'Answers are counted in the minute they came; p99 "all" leaves out forgeries and replays (fast ' +
      'refusals by design). The last row may be a partial minute (answers after the load stopped). ' +
      'CPU: the server process (every thread), everything else on the machine but the soak itself ' +
      "(other people's work on a shared box), and time the hypervisor stole, in cores over the minute: " +
      'a p99 that rises with "others" is the machine, not the server.',
    '',
    ...minuteTable(result.rows),
    '',
    '## Totals',
    '',
    ...totalsTable(result.totals),
    '',
    'Latencies of every answer, any status; "all" counts every kind (statuses) but leaves forgeries and replays out of its latencies.',
    '',
    'Admin reads by route:',
    '',
    '| Route | Requests | p50 (ms) | p99 (ms) | max (ms) |',
    '| --- | --- | --- | --- | --- |',
    ...result.adminRoutes.map(
      (r) =>
        `| \`${r.route}\` | ${r.requests} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${fixed(r.maxMs)} |`,
    ),
    '',
    `Counts: ${Object.entries(result.counts)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ')}.`,
    '',
    '## Growth (last 5 minutes against minutes 5–10, at most +20 %)',
    '',
    ...(growth.judged
      ? [
          '| Figure | Minutes 5–10 | Last 5 | Ratio | Pass |',
          '| --- | --- | --- | --- | --- |',
          ...growth.checks.map(
            (c) =>
              `| ${c.what} | ${fixed(c.baseline)} | ${fixed(c.last)} | ${fixed(c.ratio, 2)} | ${c.pass ? 'yes' : '**no**'} |`,
          ),
        ]
      : [`Not judged: ${growth.reason}.${result.quick ? ' (--quick judges no growth.)' : ''}`]),
    '',
    '## Correctness',
    '',
    `- Acknowledged deliveries: ${checks.segmentsChecked} segments paged through the admin API and ` +
      `compared with the membership the acknowledged deliveries make (${checks.membershipsChecked.toLocaleString('en-US')} ` +
      `memberships); ${checks.uncertainSegments} segment(s) left out because a delivery to them was never acknowledged.`,
    `- Change feed: ${checks.feedEntries.toLocaleString('en-US')} entries tailed up to seq ${checks.feedLastSeq}, ` +
      'each checked to follow the previous one with no gap; replayed into memberships, it matches every checked segment ' +
      'unless listed below.',
    `- User → segments: ${checks.lookupsChecked} users looked up and compared with the model.`,
    `- 5xx other than 503: ${Object.keys(result.serverErrors).length === 0 ? 'none' : statuses(result.serverErrors)}.`,
    `- Retention: the server logged ${result.retentionRuns.length} runs of the job ` +
      `(${result.retentionRuns.filter((r) => Object.values(r.deleted).some((n) => n > 0)).length} deleted rows; ` +
      `longest ${fixed(Math.max(0, ...result.retentionRuns.map((r) => r.ms)), 0)} ms); the ` +
      `${result.counts.retentionRuns ?? 0} recorded in the audit log deleted ${retention || 'nothing'}.`,
    '',
    ...(result.problems.length === 0
      ? ['No problems.']
      : ['### Problems', '', ...result.problems.slice(0, 200).map((p) => `- ${p}`)]),
    '',
  ];
  return lines.join('\n');
}
