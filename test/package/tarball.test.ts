// npm pack, install the tarball into a fresh project, type-check a consumer of every entry and run each adapter there.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
};

/** npm's environment without the npm_* variables of the `npm test` that runs us (they point at this repo). */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, env: cleanEnv(), maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** The version this repo installed, so the fresh project takes the same one from npm's cache. */
function ourVersion(name: string): string {
  const file = path.join(root, 'node_modules', name, 'package.json');
  if (!existsSync(file))
    throw new Error(`${name} is not installed here: it must be a devDependency`);
  return `${name}@${(JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version}`;
}

type Outcome = {
  adapter: string;
  signed: { status: number; body: unknown };
  forged: { status: number; body: unknown };
  received: string[];
};

describe('the packed package, installed into a fresh project', () => {
  let work: string;
  let packed: string[];
  let project: string;

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'dist', 'src', 'index.js'))) {
      throw new Error('dist/ is missing: npm test builds it first (npm run build)');
    }
    work = mkdtempSync(path.join(os.tmpdir(), 'heap-partner-api-tarball-'));
    // dist/ is already built (npm test builds before jest): skip prepare's second build.
    const [packResult] = JSON.parse(
      await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], root),
    ) as [{ filename: string; files: { path: string }[] }];
    packed = packResult.files.map((file) => file.path);

    project = path.join(work, 'consumer');
    cpSync(path.join(__dirname, 'consumer'), project, { recursive: true });
    cpSync(path.join(root, 'examples'), path.join(project, 'examples'), { recursive: true });
    writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, license: 'MIT' }),
    );
    // Everything comes from npm's cache, filled by this repo's npm ci; no install script runs, so
    // better-sqlite3 is not compiled (the store entries are type-checked only).
    await npm(
      [
        'install',
        '--prefer-offline',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--no-save',
        path.join(work, packResult.filename),
        ...['typescript', '@types/node', '@types/express', 'express', 'fastify'].map(ourVersion),
      ],
      project,
    );
  }, 100_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs what runs and nothing else', () => {
    for (const target of Object.values(pkg.exports)) {
      const files = typeof target === 'string' ? [target] : [target.types, target.default];
      for (const file of files) expect(packed).toContain(file.replace(/^\.\//, ''));
    }
    // Read at run time (src/config/paths.ts): the spec, the admin API document, the dashboard, migrations.
    expect(packed).toEqual(
      expect.arrayContaining([
        'webhook_spec.yaml',
        'admin_api.yaml',
        'public/dashboard.css',
        'src/store/postgres/migrations/001_init.sql',
        'bin/generateTestHeapHeaders.js',
        'bin/heap-partner-api.js',
        'dist/src/cli/main.js',
        'bin/data/sync.json',
        'dist/src/store/sqlite/worker.js',
        'README.md',
        'SECURITY.md',
      ]),
    );
    const stray = packed.filter(
      (file) =>
        /^(test|bench|examples|docs|\.ci)\//.test(file) ||
        /^dist\/(test|bench)\//.test(file) ||
        file.endsWith('.map') ||
        (file.endsWith('.ts') && !file.endsWith('.d.ts')),
    );
    expect(stray).toEqual([]);
  });

  it('installs the heap-partner-api command (npx heap-partner-api <command>)', async () => {
    const npx = (args: string[]) =>
      run('npx', ['--no-install', 'heap-partner-api', ...args], { cwd: project, env: cleanEnv() });
    const help = await npx(['--help']);
    for (const command of ['serve', 'send', 'migrate', 'rotate-token-key', 'emulator']) {
      expect(help.stdout).toContain(`heap-partner-api ${command}`);
    }
    expect((await npx(['send', '--help'])).stdout).toContain('Examples:');
  });

  it('blocks deep imports: only the exports map is public', async () => {
    const script = `try { require('heap-partner-api/dist/src/webhook/signature'); console.log('loaded') }
      catch (error) { console.log(error.code) }`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: project });
    expect(stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  /** tsc's output (its errors) for one of the consumer's tsconfig files; '' when it passes. */
  async function typeCheck(tsconfig: string): Promise<string> {
    const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    return run(process.execPath, [tsc, '-p', tsconfig], { cwd: project }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
  }

  it('type-checks a strict TypeScript consumer of every entry and the examples (node16)', async () => {
    // Also compiles them into out/, which the next test runs.
    expect(await typeCheck('tsconfig.json')).toBe('');
  }, 60_000);

  it.each([
    ['node10', 'older CommonJS projects: typesVersions maps the subpaths'],
    ['bundler', 'Next.js, Vite and other bundlers'],
  ])(
    'type-checks the consumer under moduleResolution %s too (%s)',
    async (resolution) => {
      // The package's own .d.ts files were checked above; these runs check how the imports resolve.
      expect(await typeCheck(`tsconfig.${resolution}.json`)).toBe('');
    },
    60_000,
  );

  it('imports by name from an ES module (Node finds the CommonJS named exports)', async () => {
    const script = `import { signHeapHash, createHeapWebhooks } from 'heap-partner-api';
      import { createFetchHandler } from 'heap-partner-api/web';
      console.log([signHeapHash, createHeapWebhooks, createFetchHandler].map((f) => typeof f).join())`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: project,
    });
    expect(stdout.trim()).toBe('function,function,function');
  });

  it('receives a signed sync and refuses a forged one with Express, node:http, Fetch and Fastify', async () => {
    // Compiled by the type-check above (outDir out/).
    const { stdout } = await run(process.execPath, [path.join('out', 'servers.js')], {
      cwd: project,
    });
    const outcomes = JSON.parse(stdout) as Outcome[];
    expect(outcomes.map((outcome) => outcome.adapter)).toEqual([
      'express',
      'node',
      'web',
      'fastify',
      'example-express',
    ]);
    for (const outcome of outcomes) {
      expect({ adapter: outcome.adapter, status: outcome.signed.status }).toEqual({
        adapter: outcome.adapter,
        status: 200,
      });
      expect({ adapter: outcome.adapter, ...outcome.forged }).toEqual({
        adapter: outcome.adapter,
        status: 403,
        body: expect.objectContaining({ error: 'invalid_signature' }),
      });
    }
    // The handlers saw the signed page and never the forged one.
    for (const adapter of ['express', 'node', 'web', 'fastify']) {
      expect(outcomes.find((outcome) => outcome.adapter === adapter)?.received).toEqual([
        `${adapter}-user`,
      ]);
    }
    expect(outcomes[4].received).toEqual([expect.stringMatching(/^segment 4242: \+1 -0/)]);
  }, 30_000);
});
