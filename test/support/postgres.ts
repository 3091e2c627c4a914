// Throwaway PostgreSQL clusters for tests: initdb + pg_ctl from the machine's PostgreSQL, loopback, a free port.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** Set by the jest global setup: the shared cluster's base URL, or why there is none. */
export const SHARED_URL_ENV = 'HPA_TEST_PG_URL';
export const SKIP_REASON_ENV = 'HPA_TEST_PG_SKIP';

export type Cluster = {
  port: number;
  dir: string;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url: (database?: string) => string;
  start: () => void;
  /** `pg_ctl stop -m immediate`: like a crash, nothing waits for clients. */
  stop: () => void;
  /** Stops (if running) and deletes the cluster's files. */
  destroy: () => void;
  /**
   * SIGSTOPs the server and its backends (a hung database: connections open but nothing
   * answers), or SIGCONTs them again.
   */
  freeze: () => void;
  thaw: () => void;
};

/** The bin directory of the newest PostgreSQL with initdb and pg_ctl, or undefined. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root).sort((a, b) => Number(b) - Number(a) || b.localeCompare(a))
    : [];
  const candidates = [
    ...versions.map((version) => path.join(root, version, 'bin')),
    ...(process.env.PATH ?? '').split(path.delimiter),
  ];
  return candidates.find(
    (dir) => dir && existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')),
  );
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Runs a PostgreSQL binary. PostgreSQL refuses to run as root, so as root it runs as the
 * `postgres` system user.
 */
function runAsPostgres(command: string, args: string[]): void {
  const line = [command, ...args].map(quote).join(' ');
  const result =
    process.getuid?.() === 0
      ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', line], { encoding: 'utf8' })
      : spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${line} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('postgres:'));
  if (!line) throw new Error('running as root, but there is no postgres system user');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * initdb a new cluster in a temporary directory and start it on 127.0.0.1:<free port>, trust
 * authentication. The cluster's default collation is ICU English (where available), so tests
 * would notice a query that depends on the database's collation instead of byte order.
 */
export async function startCluster(bin: string): Promise<Cluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hpa-pg-'));
  const owner = postgresUser();
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = path.join(dir, 'data');
  const initdb = path.join(bin, 'initdb');
  const common = ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'];
  try {
    runAsPostgres(initdb, [
      ...common,
      '--locale=C.UTF-8',
      '--locale-provider=icu',
      '--icu-locale=en',
    ]);
  } catch {
    rmSync(data, { recursive: true, force: true });
    runAsPostgres(initdb, [...common, '--locale=C.UTF-8']);
  }
  const port = await freePort();
  const pgCtl = path.join(bin, 'pg_ctl');
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c max_connections=200',
  ].join(' ');
  let running = false;
  let frozen: number[] = [];
  const cluster: Cluster = {
    port,
    dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    start: () => {
      runAsPostgres(pgCtl, [
        '-D',
        data,
        '-l',
        path.join(dir, 'server.log'),
        '-o',
        options,
        '-w',
        '-t',
        '60',
        'start',
      ]);
      running = true;
    },
    stop: () => {
      if (!running) return;
      runAsPostgres(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      running = false;
    },
    destroy: () => {
      try {
        cluster.thaw();
        cluster.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    freeze: () => {
      // The postmaster first, so that it forks no backend we would miss; then its children.
      const postmaster = postmasterOf(data);
      signal(postmaster, 'SIGSTOP');
      frozen = [postmaster, ...childrenOf(postmaster)];
      for (const pid of frozen.slice(1)) signal(pid, 'SIGSTOP');
    },
    thaw: () => {
      const stopped = frozen;
      frozen = [];
      for (const pid of stopped) signal(pid, 'SIGCONT');
    },
  };
  // Never leave a server behind, even when the process that started it ends abruptly.
  process.once('exit', () => cluster.destroy());
  cluster.start();
  return cluster;
}

/**
 * Signals a server process that may have ended meanwhile: a backend that was exiting as we froze
 * the server is reaped by the postmaster as soon as it runs again.
 */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** The postmaster's process id, from its data directory. */
function postmasterOf(data: string): number {
  return Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/** The processes whose parent is `parent` (a postmaster's backends and helpers). */
function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after ")".
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Creates a fresh, empty database on a cluster and returns its URL. */
export async function createDatabase(baseUrl: string, prefix = 'hpa'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: `${baseUrl}postgres` });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return `${baseUrl}${name}`;
}

/** The shared test cluster's base URL (`postgres://…/`), or why PostgreSQL tests are skipped. */
export function sharedPostgres(): { url: string } | { skip: string } {
  const url = process.env[SHARED_URL_ENV];
  if (url) return { url };
  return { skip: process.env[SKIP_REASON_ENV] ?? 'the jest global setup did not run' };
}
