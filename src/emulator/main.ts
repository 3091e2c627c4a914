// Runs the Heap emulator on its own port (`heap-partner-api emulator`, `npm run heap-emulator`), next to the partner app.
import { readEnvironment } from '../config/index';
import { loadEmulatorOptions, type EmulatorSettings } from './env';
import { HUB_PAGE_PATH } from './hubPage';
import { createEmulator } from './index';

function banner(settings: EmulatorSettings, url: string): string {
  const base = settings.options.publicBaseUrl ?? url;
  const [client] = settings.options.clients;
  return [
    '',
    `Heap emulator is listening on ${url}`,
    `  Developers Hub: ${base}${HUB_PAGE_PATH}`,
    `  OAuth:          point your app's Heap server at ${base}`,
    `                  client_id ${client.clientId}, redirect_uri ${client.redirectUri}`,
    `  Webhooks to:    ${settings.options.webhook.url} (secret from ${settings.secretSource})`,
    '',
  ].join('\n');
}

async function startEmulator(): Promise<void> {
  const loaded = loadEmulatorOptions(readEnvironment());
  if (!loaded.ok) {
    process.stderr.write(
      `The Heap emulator cannot start; fix the configuration:\n${loaded.problems.map((p) => `  - ${p}`).join('\n')}\n`,
    );
    process.exit(1);
  }
  const { settings } = loaded;
  const emulator = createEmulator(settings.options);
  const { url } = await emulator.listen(settings.port, settings.host);
  process.stderr.write(banner(settings, url));

  const shutdown = () => {
    emulator
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

/** Starts the emulator; it runs until SIGTERM/SIGINT and exits the process itself. */
export function main(): void {
  startEmulator().catch((error: unknown) => {
    process.stderr.write(
      `The Heap emulator stopped: ${(error as Error).message ?? String(error)}\n`,
    );
    process.exit(1);
  });
}

// Run directly (tests spawn the built file); the CLI imports it and calls main() for `emulator`.
if (require.main === module) main();
