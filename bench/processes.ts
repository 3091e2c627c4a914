// Child processes of the bench (the server under test, floor A, floor B) and their /proc figures.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export type Listening = {
  pid: number;
  url: string;
  stop: () => Promise<void>;
};

/**
 * Starts `node <entry>` with exactly `env` (plus PATH and PORT=0), output to `logFile` rather
 * than a pipe so the bench process spends nothing relaying log lines, and resolves once the log
 * says it listens (a pino-style `{"port":N,…,"msg":"listening"}` line).
 */
export async function startListening(
  entry: string,
  env: Record<string, string>,
  logFile: string,
  nodeArgs: string[] = [],
): Promise<Listening> {
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    const log = readFileSync(logFile, 'utf8');
    const match = /"port":(\d+)[^\n]*"msg":"listening"/.exec(log);
    if (match) {
      return {
        pid: child.pid as number,
        url: `http://127.0.0.1:${match[1]}`,
        stop: async () => {
          if (exitCode !== undefined) return;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(killer);
        },
      };
    }
    if (exitCode !== undefined || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${entry} did not start (exit ${exitCode}):\n${log.slice(-2000)}`);
    }
    await sleep(50);
  }
}

/** Runs `node <entry> <json>` to completion and returns the JSON it prints last on stdout. */
export function runJsonChild<T>(entry: string, input: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [entry, JSON.stringify(input)], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      const lines = out.trim().split('\n');
      if (code === 0) resolve(JSON.parse(lines[lines.length - 1]) as T);
      else reject(new Error(`${entry} exited with ${code}:\n${out.slice(-2000)}`));
    });
  });
}

export type ProcStatus = { rssKb: number; hwmKb: number };

/** VmRSS (now) and VmHWM (peak since start) of a live process, or undefined once it is gone. */
export function procStatus(pid: number): ProcStatus | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** /proc counts CPU time in clock ticks: USER_HZ, 100 a second on Linux. */
export const MS_PER_CLOCK_TICK = 10;

/**
 * CPU time (user + system, every thread of the process) in ms from a /proc/<pid>/stat line. The
 * fields are counted after the parenthesised command name, which may itself hold spaces or ')'.
 */
export function statCpuMs(stat: string): number {
  // utime and stime are the 14th and 15th fields; the 3rd (state) is the first after the name.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MS_PER_CLOCK_TICK;
}

/** CPU time (user + system) a live process has used, in ms; 0 once it is gone. */
export function cpuMsOf(pid: number): number {
  try {
    return statCpuMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return 0;
  }
}

/**
 * CPU time in ms of a process tree one level deep: the root (with what its reaped children left it:
 * cutime and cstime), and each live direct child (with its own reaped children). PostgreSQL runs
 * every backend and worker as a child of the postmaster, so this is the whole cluster's CPU, exited
 * backends included.
 */
export function treeCpuMsOf(rootPid: number): number {
  const withChildren = (stat: string) => {
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (
      (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) *
      MS_PER_CLOCK_TICK
    );
  };
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number(entry) === rootPid || parent === rootPid) total += withChildren(stat);
  }
  return total;
}
