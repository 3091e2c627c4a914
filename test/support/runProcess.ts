// Runs a command to its end and collects what it printed: how tests drive the built CLI, as a person or a cron job would.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './serverProcess';
import { tempDir } from './testApp';

export type ProcessRun = {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in the order they arrived. */
  output: string;
};

/** The package's one CLI, built (`npm run build` first). */
export const CLI_PATH = path.join(repoRoot, 'bin', 'heap-partner-api.js');

export function runProcess(
  file: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv },
): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, output }));
  });
}

/**
 * Runs a Node script (the built CLI by default) in `cwd` (a fresh empty directory unless given:
 * no .env, no data of ours) with exactly `env` plus PATH.
 */
export function runNode(
  script: string,
  args: string[],
  env: Record<string, string> = {},
  cwd: string = tempDir('hpa-cli-cwd-'),
): Promise<ProcessRun> {
  return runProcess(process.execPath, [script, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
  });
}

export function runCli(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): Promise<ProcessRun> {
  return runNode(CLI_PATH, args, env, cwd);
}
