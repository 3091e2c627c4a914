// `heap-partner-api <command>`: the package's one CLI, dispatching to the server, send, check, migrate, backup, rotate-token-key and emulator entries.
import yargs from 'yargs';
import { examplesBlock } from './examples';
// The other entries load Express, the stores and their drivers: imported only when chosen, so
// --help, send and check start quickly.
import * as send from './generateTestHeapHeaders';
import * as check from './check';

const NAME = 'heap-partner-api';
const EXIT_USAGE = 2;
const COMMANDS = ['serve', 'send', 'check', 'migrate', 'backup', 'rotate-token-key', 'emulator'];

/** What a parsed command does: an exit code, or undefined for a server that keeps the process alive. */
type Action = () => Promise<number | undefined>;

function parser(select: (action: Action) => void) {
  return yargs()
    .scriptName(NAME)
    .usage(
      '$0 <command> [options]\n\n' +
        'Receives, verifies and durably applies Heap Segment Sync webhooks, and the tools around\n' +
        'it. Configuration comes from the environment or ./.env, as for the server.',
    )
    .command(
      'serve',
      'Start the server (what npm start runs)',
      (y) =>
        y.epilogue(
          examplesBlock(NAME, [
            ['serve', 'zero-config development server on http://localhost:3000'],
            ['serve', 'listen on every interface, port 8080', 'PORT=8080 HOST=0.0.0.0'],
            ['serve', 'use PostgreSQL instead of SQLite', 'DATABASE_URL=postgres://…'],
          ]) + '\n\nSettings are environment variables (or ./.env): see the README.',
        ),
      () =>
        select(async () => {
          (await import('../server/main')).main();
          return undefined;
        }),
    )
    .command(
      'send',
      'Sign and POST a Heap-shaped test webhook (the seed CLI)',
      (y) =>
        send.sendOptions(y.usage(`$0 send [options]\n\n${send.SEND_DESCRIPTION}`), `${NAME} send`),
      (args) => select(() => send.run(send.optionsFrom(args))),
    )
    .command(
      'check <url>',
      "Score a webhook receiver (any language): signing, raw bytes, protocol, Heap's variants",
      (y) =>
        check.checkOptions(
          y.usage(`$0 check <url> [options]\n\n${check.CHECK_DESCRIPTION}`),
          `${NAME} check`,
        ),
      (args) => select(() => check.run(check.optionsFrom(args))),
    )
    .command(
      'migrate',
      'Apply pending PostgreSQL migrations for DATABASE_URL',
      (y) =>
        y
          .option('check', {
            type: 'boolean',
            default: false,
            description: 'Only list pending migrations; exit 1 if there are any',
          })
          .epilogue(
            examplesBlock(NAME, [
              ['migrate', 'apply what is pending, under the lock the app takes at start-up'],
              ['migrate --check', 'a deploy gate: exit 1 while migrations are pending'],
            ]) +
              '\n\nExit status: 0 done (or nothing pending), 1 pending (--check) or the database ' +
              'failed, 2 bad usage.\nWithout DATABASE_URL: the SQLite file in DATA_DIR (the server also migrates it at start).',
          ),
      (args) => select(async () => (await import('./migrate')).main(args.check ? ['--check'] : [])),
    )
    .command(
      'backup <file>',
      'Copy the SQLite store into a new file while the server runs',
      (y) =>
        y
          .positional('file', {
            type: 'string',
            demandOption: true,
            description: 'The backup to write (a new file, mode 0600)',
          })
          .option('force', {
            type: 'boolean',
            description: 'Replace the file if it exists',
          })
          .option('verify', {
            type: 'boolean',
            description:
              'Open the copy and run PRAGMA integrity_check; report its schema version and row counts',
          })
          .option('verify-only', {
            type: 'boolean',
            description: 'Copy nothing: check an existing backup (e.g. before restoring it)',
          })
          .conflicts('verify-only', ['force', 'verify'])
          .epilogue(
            examplesBlock(NAME, [
              [
                'backup /backups/heap-$(date +%F).sqlite --verify',
                "today's backup, checked before it takes its name",
              ],
              ['backup ./nightly.sqlite --force', "replace last night's file"],
              ['backup ./nightly.sqlite --verify-only', 'check a backup before restoring it'],
              [
                'backup copy.sqlite',
                'back up the store in another data directory',
                'DATA_DIR=/srv/heap/data',
              ],
            ]) +
              '\n\nOne consistent snapshot: it holds every delivery acknowledged before the command\n' +
              'started, while the server keeps applying new ones. The copy is written under a\n' +
              'temporary name beside the file and renamed when complete. Progress is shown on a\n' +
              "terminal. For PostgreSQL use pg_dump or your provider's backups (see the README).\n" +
              'Exit status: 0 written (and verified), 1 the copy or its check failed, 2 bad usage,\n' +
              'the file exists (without --force), PostgreSQL configured or no database.',
          ),
      (args) =>
        select(async () =>
          (await import('./backup')).main({
            file: args.file,
            force: args.force ?? false,
            verify: args.verify ?? false,
            verifyOnly: args.verifyOnly ?? false,
          }),
        ),
    )
    .command(
      'rotate-token-key',
      'Re-seal every stored Heap access token with TOKEN_ENCRYPTION_KEY',
      (y) =>
        y.epilogue(
          examplesBlock(NAME, [
            [
              'rotate-token-key',
              'tokens sealed with the previous key are opened with it and sealed with the new one',
              'TOKEN_ENCRYPTION_KEY=<new> TOKEN_ENCRYPTION_KEY_PREVIOUS=<old>',
            ],
          ]) +
            '\n\nSafe beside live instances, and to run again. Exit status: 0 every token is\n' +
            'sealed with the current key, 1 some token opens with neither key (or the store\n' +
            'failed), 2 bad usage or configuration.',
        ),
      () => select(async () => (await import('./rotateTokenKey')).main([])),
    )
    .command(
      'emulator',
      'Run the Heap emulator (OAuth, Developers Hub, deliveries) on its own port',
      (y) =>
        y.epilogue(
          examplesBlock(NAME, [
            ['emulator', 'on http://127.0.0.1:3001, delivering to http://localhost:3000/webhook'],
            ['emulator', 'on another port', 'HEAP_EMULATOR_PORT=4000'],
          ]) + '\n\nSettings are environment variables (or ./.env): see the README.',
        ),
      () =>
        select(async () => {
          (await import('../emulator/main')).main();
          return undefined;
        }),
    )
    .demandCommand(1, `Name a command: ${COMMANDS.join(', ')}.`)
    .alias('help', 'h')
    .version(false)
    .strict()
    .showHelpOnFail(false, `Run ${NAME} <command> --help for its options and examples.`)
    .wrap(100);
}

/** Runs the CLI; resolves to the exit code, or undefined when a server now runs until a signal. */
export async function main(argv: string[]): Promise<number | undefined> {
  const [first] = argv;
  // yargs would call it an unknown *argument*; a mistyped command deserves a plainer answer.
  if (first !== undefined && !first.startsWith('-') && !COMMANDS.includes(first)) {
    process.stderr.write(
      `${NAME}: unknown command "${first}". Commands: ${COMMANDS.join(', ')}.\n` +
        `Run ${NAME} --help for what each does.\n`,
    );
    return EXIT_USAGE;
  }
  let action: Action | undefined;
  const outcome = await new Promise<{ error?: Error; help: boolean; output: string }>((resolve) => {
    parser((selected) => (action = selected)).parse(argv, {}, (error, args, output) =>
      resolve({ error: error ?? undefined, help: Boolean(args.help), output }),
    );
  });
  if (outcome.error) {
    process.stderr.write(`${outcome.output || outcome.error.message}\n`);
    return EXIT_USAGE;
  }
  if (outcome.help || !action) {
    process.stdout.write(`${outcome.output}\n`);
    return 0;
  }
  return action();
}
