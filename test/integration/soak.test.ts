// The soak harness end to end for a few seconds against the built server (the CI's 2-minute --quick run is its longer check).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SoakResult } from '../../bench/soakReport';

const repoRoot = path.join(__dirname, '..', '..');
const soakEntry = path.join(repoRoot, 'dist', 'bench', 'soak.js');

function runSoak(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [soakEntry, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('npm run soak (a 16-second run)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'soak-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sends every kind of request, checks every touched segment and passes', async () => {
    const out = path.join(dir, 'SOAK.md');
    const { code, stderr } = await runSoak([
      '--seconds',
      '16',
      '--capacity-seconds',
      '2',
      '--out',
      out,
    ]);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(readFileSync(path.join(dir, 'SOAK.json'), 'utf8')) as SoakResult;
    expect(result.pass).toBe(true);
    expect(result.problems).toEqual([]);
    expect(result.totals.map((t) => t.kind).sort()).toEqual(
      [
        'all',
        'admin',
        'changes',
        'csv',
        'drain',
        'forgery',
        'lookup',
        'members',
        'replay',
        'sync',
      ].sort(),
    );
    const forgeries = result.totals.find((t) => t.kind === 'forgery');
    expect(Object.keys(forgeries?.statuses ?? {})).toEqual(['403']);
    expect(result.counts.forgeriesRefused).toBe(forgeries?.requests);
    expect(result.checks.segmentsChecked).toBeGreaterThan(10);
    expect(result.checks.lookupsChecked).toBeGreaterThan(100);
    // Every applied delivery (capacity phase included) is one entry of the tailed feed.
    expect(result.checks.feedEntries).toBe(result.counts.applied);
    expect(result.rows.length).toBeGreaterThanOrEqual(1);
    expect(result.rows[0].rssMb).toBeGreaterThan(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^# Soak: PASS/);
  }, 180_000);
});
