// The bench's database CPU meter: a process tree's CPU, children that already exited included.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpuMsOf, treeCpuMsOf } from '../../bench/processes';

// A root that starts a child burning 300 ms of CPU, waits for it to exit (so the kernel folds the
// child's time into the root's cutime/cstime), then says so and stays alive until killed.
const ROOT = `
const { spawn } = require('node:child_process');
const burn = "const t = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }; while (t() < 300) {}";
const child = spawn(process.execPath, ['-e', burn], { stdio: 'ignore' });
console.log('child ' + child.pid);
child.on('exit', () => console.log('reaped'));
setInterval(() => {}, 1000);
`;

describe('treeCpuMsOf', () => {
  it('counts a child that ran and exited, which the root alone does not show', async () => {
    const root = spawn(process.execPath, ['-e', ROOT], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      root.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      while (!out.includes('reaped')) await once(root.stdout, 'data');
      const tree = treeCpuMsOf(root.pid as number);
      const alone = cpuMsOf(root.pid as number);
      expect(tree).toBeGreaterThanOrEqual(250);
      expect(tree - alone).toBeGreaterThanOrEqual(250);
    } finally {
      root.kill();
    }
  });

  it('is 0 for a pid that does not exist', () => {
    expect(treeCpuMsOf(2 ** 22 + 12345)).toBe(0);
  });
});
