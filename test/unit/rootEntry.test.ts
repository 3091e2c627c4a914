// The package's root entry stays light: requiring the built dist/src/index.js loads no web framework or database driver.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const HEAVY = ['express', 'better-sqlite3', 'pg', 'fastify'];

/** The packages under node_modules that requiring `entry` loads, read from require.cache in a fresh process. */
function packagesLoadedBy(entry: string): { packages: string[]; exports: string[] } {
  const script = `
    const loaded = require(${JSON.stringify(entry)});
    const packages = new Set();
    for (const file of Object.keys(require.cache)) {
      const match = /[\\\\/]node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/.exec(file);
      if (match) packages.add(match[1].replace(/\\\\/g, '/'));
    }
    process.stdout.write(JSON.stringify({ packages: [...packages].sort(), exports: Object.keys(loaded).sort() }));
  `;
  return JSON.parse(
    execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' }),
  );
}

describe('the root entry (heap-partner-api)', () => {
  const entry = path.join(root, 'dist', 'src', 'index.js');

  beforeAll(() => {
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
  });

  it('loads neither Express, better-sqlite3, pg nor Fastify', () => {
    const { packages } = packagesLoadedBy(entry);
    expect(packages.filter((name) => HEAVY.includes(name) || name.startsWith('pg-'))).toEqual([]);
  });

  it('still exports the signature and parsing functions', () => {
    const { exports } = packagesLoadedBy(entry);
    expect(exports).toEqual(
      expect.arrayContaining([
        'signHeapHash',
        'verifyHeapHash',
        'parseHeapHash',
        'checkHeapHashHeader',
        'computeHeapHmac',
        'parseWebhookBody',
      ]),
    );
    // The whole server moved to heap-partner-api/app, the stores to /sqlite and /postgres.
    expect(exports).not.toContain('createApp');
    expect(exports).not.toContain('SqliteStore');
    expect(exports).not.toContain('PostgresStore');
  });

  it('is told apart from the app entry, which does load Express (the check above can fail)', () => {
    const { packages, exports } = packagesLoadedBy(path.join(root, 'dist', 'src', 'app.js'));
    expect(packages).toContain('express');
    expect(exports).toEqual(expect.arrayContaining(['createApp', 'loadConfig', 'openStore']));
  });
});
