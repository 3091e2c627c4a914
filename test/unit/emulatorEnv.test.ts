// Unit tests for loadEmulatorOptions: development defaults, variable precedence, the secret's source.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WEBHOOK_SECRET_FILE } from '../../src/config/index';
import { loadEmulatorOptions } from '../../src/emulator/env';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'emulator-env-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadEmulatorOptions', () => {
  it('needs only a webhook secret, with development defaults for the rest', () => {
    const loaded = loadEmulatorOptions({ WEBHOOK_SECRET: 'whsec' }, dir);
    expect(loaded).toEqual({
      ok: true,
      settings: {
        port: 3001,
        host: '127.0.0.1',
        secretSource: 'WEBHOOK_SECRET',
        options: {
          clients: [
            {
              clientId: 'emulator-client',
              clientSecret: 'emulator-client-secret',
              redirectUri: 'http://localhost:3000/api/oauth_redirect',
              appName: 'My partner app',
            },
          ],
          webhook: { url: 'http://localhost:3000/webhook', secret: 'whsec' },
          publicBaseUrl: undefined,
        },
      },
    });
  });

  it('takes the app’s CLIENT_ID, CLIENT_SECRET and REDIRECT_URI, HEAP_EMULATOR_* first', () => {
    const loaded = loadEmulatorOptions(
      {
        WEBHOOK_SECRET: 'whsec',
        CLIENT_ID: 'app-client',
        CLIENT_SECRET: 'app-secret',
        REDIRECT_URI: 'http://localhost:3000/cb',
        HEAP_EMULATOR_CLIENT_ID: 'emulator-only',
        HEAP_EMULATOR_PORT: '4001',
        HEAP_EMULATOR_WEBHOOK_URL: 'http://127.0.0.1:3000/users_sync',
      },
      dir,
    );
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    expect(loaded.settings.port).toBe(4001);
    expect(loaded.settings.options.clients[0]).toMatchObject({
      clientId: 'emulator-only',
      clientSecret: 'app-secret',
      redirectUri: 'http://localhost:3000/cb',
    });
    expect(loaded.settings.options.webhook.url).toBe('http://127.0.0.1:3000/users_sync');
  });

  it('lets the hub aim deliveries anywhere only on loopback (HEAP_EMULATOR_HOST)', () => {
    const webhookOf = (host: string) => {
      const loaded = loadEmulatorOptions({ WEBHOOK_SECRET: 'w', HEAP_EMULATOR_HOST: host }, dir);
      if (!loaded.ok) throw new Error(loaded.problems.join());
      return loaded.settings.options.webhook;
    };
    expect(webhookOf('localhost').allowedUrls).toBeUndefined();
    expect(webhookOf('::1').allowedUrls).toBeUndefined();
    expect(webhookOf('0.0.0.0').allowedUrls).toEqual(['http://localhost:3000/webhook']);
  });

  it('falls back to the secret the app generated in DATA_DIR', () => {
    const dataDir = path.join(dir, 'data');
    const file = path.join(dataDir, WEBHOOK_SECRET_FILE);
    mkdirSync(dataDir);
    writeFileSync(file, 'generated-secret\n');
    const loaded = loadEmulatorOptions({ DATA_DIR: 'data' }, dir);
    if (!loaded.ok) throw new Error(loaded.problems.join('; '));
    expect(loaded.settings.options.webhook.secret).toBe('generated-secret');
    expect(loaded.settings.secretSource).toBe(file);
  });

  it('names every problem instead of starting half-configured', () => {
    const loaded = loadEmulatorOptions(
      {
        HEAP_EMULATOR_PORT: '70000',
        REDIRECT_URI: 'localhost:3000/cb',
        HEAP_EMULATOR_WEBHOOK_URL: 'ftp://x',
        HEAP_EMULATOR_PUBLIC_URL: 'nope',
      },
      dir,
    );
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.problems).toEqual([
      expect.stringMatching(/^HEAP_EMULATOR_PORT/),
      expect.stringMatching(/^HEAP_EMULATOR_REDIRECT_URI/),
      expect.stringMatching(/^HEAP_EMULATOR_WEBHOOK_URL/),
      expect.stringMatching(/^HEAP_EMULATOR_PUBLIC_URL/),
      expect.stringMatching(/No webhook secret: set WEBHOOK_SECRET, or start the app once/),
    ]);
  });
});
