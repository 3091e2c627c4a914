// The standalone emulator's settings from an environment object (src/config/env.ts reads process.env).
import { firstSet, integer, type Environment } from '../config/env';
import { isLoopbackHost } from '../config/loopback';
import { findWebhookSecret } from '../config/secrets';
import { resolveOptions, type EmulatorOptions } from './options';
import { isHttpUrl } from './validation';

export type EmulatorSettings = {
  options: EmulatorOptions;
  port: number;
  host: string;
  /** Where the webhook secret came from, for the banner (never the secret itself). */
  secretSource: string;
};

export const DEFAULT_EMULATOR_PORT = 3001;
export const DEFAULT_EMULATOR_HOST = '127.0.0.1';
export const DEFAULT_CLIENT_ID = 'emulator-client';
export const DEFAULT_CLIENT_SECRET = 'emulator-client-secret';
/** The app's OAuth callback, as in Heap's reference app. */
export const DEFAULT_REDIRECT_URI = 'http://localhost:3000/api/oauth_redirect';
export const DEFAULT_APP_NAME = 'My partner app';
export const DEFAULT_WEBHOOK_URL = 'http://localhost:3000/webhook';

/**
 * Development defaults throughout, so `npm run heap-emulator` next to `npm start` needs nothing
 * set: the webhook secret is the app's (WEBHOOK_SECRET, or the one it generated in DATA_DIR).
 */
export function loadEmulatorOptions(
  env: Environment,
  cwd: string = process.cwd(),
): { ok: true; settings: EmulatorSettings } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  // Values are used as given (a secret must match the app's byte for byte); blank means unset.

  const port = integer(env, 'HEAP_EMULATOR_PORT', DEFAULT_EMULATOR_PORT, 0, 65535, problems);
  const redirectUri =
    firstSet(env, 'HEAP_EMULATOR_REDIRECT_URI', 'REDIRECT_URI') ?? DEFAULT_REDIRECT_URI;
  const webhookUrl = firstSet(env, 'HEAP_EMULATOR_WEBHOOK_URL') ?? DEFAULT_WEBHOOK_URL;
  const publicBaseUrl = firstSet(env, 'HEAP_EMULATOR_PUBLIC_URL');
  const checkUrl = (name: string, value: string | undefined) => {
    if (value !== undefined && !isHttpUrl(value)) {
      problems.push(`${name} must be an absolute http(s) URL (got "${value}")`);
    }
  };
  checkUrl('HEAP_EMULATOR_REDIRECT_URI (or REDIRECT_URI)', redirectUri);
  checkUrl('HEAP_EMULATOR_WEBHOOK_URL', webhookUrl);
  checkUrl('HEAP_EMULATOR_PUBLIC_URL', publicBaseUrl);

  // The app's secret: WEBHOOK_SECRET, else the development one it generated (never made here).
  const found = findWebhookSecret(env, cwd);
  if (found.secret === undefined) {
    problems.push(
      `No webhook secret: set WEBHOOK_SECRET, or start the app once so it generates ${found.file}`,
    );
  }
  if (problems.length > 0 || found.secret === undefined) return { ok: false, problems };
  const { secret, source: secretSource } = found;
  const host = firstSet(env, 'HEAP_EMULATOR_HOST') ?? DEFAULT_EMULATOR_HOST;

  const options: EmulatorOptions = {
    clients: [
      {
        clientId: firstSet(env, 'HEAP_EMULATOR_CLIENT_ID', 'CLIENT_ID') ?? DEFAULT_CLIENT_ID,
        clientSecret:
          firstSet(env, 'HEAP_EMULATOR_CLIENT_SECRET', 'CLIENT_SECRET') ?? DEFAULT_CLIENT_SECRET,
        redirectUri,
        appName: firstSet(env, 'HEAP_EMULATOR_APP_NAME') ?? DEFAULT_APP_NAME,
      },
    ],
    // On loopback, the Developers Hub may point deliveries anywhere (that is what it is for);
    // reachable from the network, only at the configured URL, so nobody else can aim it.
    webhook: isLoopbackHost(host)
      ? { url: webhookUrl, secret }
      : { url: webhookUrl, secret, allowedUrls: [webhookUrl] },
    publicBaseUrl,
  };
  const resolved = resolveOptions(options);
  if (!resolved.ok) return resolved;
  return {
    ok: true,
    settings: {
      options,
      port,
      host,
      secretSource,
    },
  };
}
