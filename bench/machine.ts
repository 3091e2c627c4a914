// Machine facts for RESULTS.md, and how much CPU other people's processes took during a measurement.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { cpuMsOf, MS_PER_CLOCK_TICK, treeCpuMsOf } from './processes';

export type MachineFacts = {
  date: string;
  cpus: string;
  nproc: number;
  memoryGb: number;
  os: string;
  node: string;
  sqlite: string;
  disk: string;
  /** How long the data directory's disk takes to make a small write durable. */
  sync: SyncLatency;
};

/** fdatasync after a 4 KiB write, as a WAL commit does: the floor under any durable commit's latency. */
export type SyncLatency = { samples: number; p50Ms: number; p99Ms: number };

/**
 * Times `samples` 4 KiB writes, each made durable with fdatasync, at successive offsets of a file
 * written once beforehand (as SQLite reuses its WAL after a checkpoint): no durable commit on this
 * disk can be quicker than one of these, whatever the code above it.
 */
export function measureSyncLatency(dir: string, samples = 200): SyncLatency {
  const scratch = mkdtempSync(path.join(dir, 'sync-'));
  const file = path.join(scratch, 'probe');
  const block = Buffer.alloc(4096, 1);
  const fd = openSync(file, 'w');
  const times: number[] = [];
  try {
    for (let i = 0; i < samples; i++) writeSync(fd, block, 0, block.length, i * block.length);
    fdatasyncSync(fd);
    for (let i = 0; i < samples; i++) {
      const started = process.hrtime.bigint();
      writeSync(fd, block, 0, block.length, i * block.length);
      fdatasyncSync(fd);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
  return { samples, p50Ms: at(50), p99Ms: at(99) };
}

function tryRun(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function machineFacts(dataDir: string): MachineFacts {
  const cpus = os.cpus();
  const memory = new Database(':memory:');
  const sqlite = (memory.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
  memory.close();
  // `df -T`: device, type, size, used, available, use%, mount point.
  const [device, type] = (tryRun('df', ['-T', dataDir]).split('\n').pop() ?? '').split(/\s+/);
  return {
    date: new Date().toISOString(),
    cpus: `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`,
    nproc: Number(tryRun('nproc', [])) || cpus.length,
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    node: process.version,
    sqlite,
    disk: `${type ?? 'unknown'} on ${device ?? 'unknown'}`,
    sync: measureSyncLatency(dataDir),
  };
}

/**
 * CPU time of the whole machine (all cores), in ms, from /proc/stat: busy running something here,
 * and stolen (this virtual machine's CPUs were runnable but the host ran someone else).
 */
function machineMs(): { busy: number; stolen: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1);
  const [user, nice, system, , , irq, softirq, steal] = cpu.map(Number);
  return {
    busy: (user + nice + system + irq + softirq) * MS_PER_CLOCK_TICK,
    stolen: steal * MS_PER_CLOCK_TICK,
  };
}

/** CPU used during a measurement, in cores (1.0 = one core busy for the whole time). */
export type CpuShares = {
  /** The measured processes (the server, a floor). */
  target: number;
  /** This process: the load generator. */
  generator: number;
  /** The database server's processes (PostgreSQL's cluster, when the bench started it; else 0). */
  database: number;
  /** Everything else on the machine: other developers' work on this shared box. */
  foreign: number;
  /** CPU the hypervisor gave to other virtual machines while ours wanted it (steal time). */
  stolen: number;
  /** The measured processes' CPU time in ms (not a share): the numerator of CPU per page. */
  targetMs: number;
  /** The database server's CPU time in ms over the same window (NaN when not metered). */
  databaseMs: number;
};

/** The postmaster of the cluster the bench started, whose tree cpuMeter meters as the database. */
let databaseRootPid: number | undefined;

/**
 * Meters a database server's CPU from now on (the postmaster's pid: PostgreSQL's backends are its
 * children), or stops (undefined: SQLite runs inside the measured process, an external server
 * cannot be seen).
 */
export function meterDatabase(rootPid: number | undefined): void {
  databaseRootPid = rootPid;
}

/**
 * CPU milliseconds per page: a process's CPU time over the measured window divided by the pages
 * it applied then (NaN when it applied none, so no figure is made up).
 */
export function cpuMsPerPage(cpuMs: number, pages: number): number {
  return pages > 0 && Number.isFinite(cpuMs) ? cpuMs / pages : NaN;
}

/**
 * Starts a CPU stopwatch over the machine (/proc/stat), this process and `pids`. `stop` takes the
 * CPU a process that has exited meanwhile reported about itself (a floor B child).
 */
export function cpuMeter(pids: number[]): { stop: (exitedTargetMs?: number) => CpuShares } {
  const targetMs = () => pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
  const root = databaseRootPid;
  const databaseMs = () => (root === undefined ? NaN : treeCpuMsOf(root));
  const ownMs = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  };
  const startedAt = Date.now();
  const machine0 = machineMs();
  const target0 = targetMs();
  const own0 = ownMs();
  const database0 = databaseMs();
  return {
    stop: (exitedTargetMs = 0) => {
      const wall = Math.max(1, Date.now() - startedAt);
      const target = targetMs() - target0 + exitedTargetMs;
      const generator = ownMs() - own0;
      const database = databaseMs() - database0;
      const machine = machineMs();
      const foreign = Math.max(
        0,
        machine.busy - machine0.busy - target - generator - (Number.isNaN(database) ? 0 : database),
      );
      const stolen = machine.stolen - machine0.stolen;
      return {
        target: target / wall,
        generator: generator / wall,
        database: Number.isNaN(database) ? 0 : database / wall,
        foreign: foreign / wall,
        stolen: stolen / wall,
        targetMs: target,
        databaseMs: database,
      };
    },
  };
}
