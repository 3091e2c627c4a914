// OAuth (Connect Heap) settings: Heap's endpoints and client, the token encryption keys, and the zero-config sandbox mode.
import { randomBytes } from 'node:crypto';
import { integer, nonEmpty, origin, type Environment } from './env';
import type { ListenConfig } from './http';
import type { DevelopmentSecrets } from './secrets';
import type { GeneratedSecret } from './webhook';

export type OAuthConfig =
  | {
      enabled: true;
      /** The built-in Heap emulator plays Heap (development without CLIENT_ID). */
      sandbox: boolean;
      clientId: string;
      clientSecret: string;
      redirectUri: string;
      /** Origin (and path prefix) of Heap's OAuth and metadata endpoints. */
      heapBaseUrl: string;
      timeoutMs: number;
    }
  | { enabled: false; missing: string[] };

/**
 * The zero-config local sandbox (the Heap emulator mounted at /heap-emulator). On only when it
 * is truly local: development, and neither WEBHOOK_SECRET nor CLIENT_ID set. `reason` says why,
 * for the banner.
 */
export type SandboxConfig =
  | { enabled: true; reason: string; webhookSecret: GeneratedSecret }
  | { enabled: false; reason: string };

export type OAuthSettings = {
  sandbox: SandboxConfig;
  oauth: OAuthConfig;
  /** AES-256-GCM key for access tokens at rest; undefined only when OAuth is not configured. */
  tokenEncryptionKey: Buffer | undefined;
  /** The key being rotated away from: tokens still sealed with it are read and re-sealed. */
  tokenEncryptionKeyPrevious: Buffer | undefined;
  /** Unexpired OAuth states allowed at once; beyond it /api/authorize answers 503. */
  oauthMaxPendingStates: number;
};

export const DEFAULT_HEAP_SERVER = 'heapanalytics.com';
/** Where the app mounts the Heap emulator in the zero-config sandbox. */
export const SANDBOX_EMULATOR_PATH = '/heap-emulator';
export const SANDBOX_CLIENT_ID = 'local-sandbox';
/** The app's OAuth callback path: the sandbox's redirect URI is this on the app's origin. */
export const SANDBOX_REDIRECT_PATH = '/api/oauth_redirect';

export function oauthSettings(
  env: Environment,
  production: boolean,
  context: {
    listen: ListenConfig;
    publicUrl: string;
    sessionSecret: string;
    /** The development webhook secret, when WEBHOOK_SECRET is not set and it exists. */
    generatedWebhookSecret: GeneratedSecret | undefined;
    developmentSecrets: DevelopmentSecrets;
  },
  problems: string[],
  warnings: string[],
): OAuthSettings {
  const { listen, publicUrl, sessionSecret, generatedWebhookSecret, developmentSecrets } = context;
  const oauthMaxPendingStates = integer(
    env,
    'OAUTH_MAX_PENDING_STATES',
    10_000,
    1,
    10_000_000,
    problems,
  );
  const tokenEncryptionKey = keySetting(env, 'TOKEN_ENCRYPTION_KEY', problems, () =>
    production ? undefined : developmentSecrets.read('TOKEN_ENCRYPTION_KEY').value,
  );
  const tokenEncryptionKeyPrevious = keySetting(env, 'TOKEN_ENCRYPTION_KEY_PREVIOUS', problems);

  const heapServer = nonEmpty(env.HEAP_SERVER) ?? DEFAULT_HEAP_SERVER;
  if (/[/:]/.test(heapServer)) {
    problems.push(
      `HEAP_SERVER must be a host name such as ${DEFAULT_HEAP_SERVER} (got "${heapServer}")`,
    );
  }
  const timeoutMs = integer(env, 'HEAP_TIMEOUT_MS', 10_000, 1, 120_000, problems);
  const heapBaseUrl = origin(env, 'HEAP_BASE_URL', '', problems);
  if (production && heapBaseUrl !== '' && !heapBaseUrl.startsWith('https:')) {
    // The client secret, the code and the access token travel to this URL.
    problems.push(
      'HEAP_BASE_URL must be an https URL when NODE_ENV=production (http is only for a local Heap emulator in development)',
    );
  }
  const clientId = nonEmpty(env.CLIENT_ID);
  const sandbox = sandboxConfig(
    production,
    nonEmpty(env.WEBHOOK_SECRET) !== undefined,
    clientId !== undefined,
    listen,
    generatedWebhookSecret,
    developmentSecrets,
  );
  const keys = { tokenEncryptionKey, tokenEncryptionKeyPrevious, oauthMaxPendingStates };
  if (sandbox.enabled) {
    if (!listen.loopbackOnly) {
      warnings.push(
        `The sandbox (the Heap emulator at ${SANDBOX_EMULATOR_PATH}) answers beyond loopback (${listen.reason}): anyone who can reach this port can send test deliveries to this development store`,
      );
    }
    const oauth: OAuthConfig = {
      enabled: true,
      sandbox: true,
      clientId: SANDBOX_CLIENT_ID,
      clientSecret: randomBytes(24).toString('base64url'),
      redirectUri: `${publicUrl}${SANDBOX_REDIRECT_PATH}`,
      heapBaseUrl: `${publicUrl}${SANDBOX_EMULATOR_PATH}`,
      timeoutMs,
    };
    return { sandbox, oauth, ...keys };
  }
  const required: Record<string, string | undefined> = {
    CLIENT_ID: clientId,
    CLIENT_SECRET: nonEmpty(env.CLIENT_SECRET),
    REDIRECT_URI: nonEmpty(env.REDIRECT_URI),
    TOKEN_ENCRYPTION_KEY: tokenEncryptionKey ? 'set' : undefined,
    SESSION_SECRET: sessionSecret || undefined,
  };
  const missing = Object.keys(required).filter((name) => !required[name]);
  if (missing.length > 0) {
    warnings.push(
      `OAuth (Connect Heap) is disabled until ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} set; webhooks still work`,
    );
    return { sandbox, oauth: { enabled: false, missing }, ...keys };
  }
  const oauth: OAuthConfig = {
    enabled: true,
    sandbox: false,
    clientId: clientId as string,
    clientSecret: required.CLIENT_SECRET as string,
    redirectUri: required.REDIRECT_URI as string,
    heapBaseUrl: heapBaseUrl || `https://${heapServer}`,
    timeoutMs,
  };
  return { sandbox, oauth, ...keys };
}

/** A 32-byte key from the variable, else from `fallback` (the development key file). */
function keySetting(
  env: Environment,
  name: string,
  problems: string[],
  fallback: () => string | undefined = () => undefined,
): Buffer | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) {
    const stored = fallback();
    return stored === undefined ? undefined : parseKey(stored);
  }
  const key = parseKey(raw);
  if (!key) problems.push(`${name} must be 32 bytes as base64 (44 characters) or hex (64)`);
  return key;
}

/**
 * On in development without WEBHOOK_SECRET and CLIENT_ID, and only once the development secrets
 * exist: the emulator signs with the generated webhook secret, never with Heap's.
 */
function sandboxConfig(
  production: boolean,
  webhookSecretSet: boolean,
  clientIdSet: boolean,
  listen: ListenConfig,
  generatedWebhookSecret: GeneratedSecret | undefined,
  developmentSecrets: DevelopmentSecrets,
): SandboxConfig {
  if (production) return { enabled: false, reason: 'NODE_ENV=production' };
  const set = [webhookSecretSet && 'WEBHOOK_SECRET', clientIdSet && 'CLIENT_ID'].filter(
    (name): name is string => typeof name === 'string',
  );
  if (set.length > 0) {
    return { enabled: false, reason: `${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set` };
  }
  if (generatedWebhookSecret === undefined || developmentSecrets.missing.length > 0) {
    const files = developmentSecrets.missing.map(({ file }) => file).join(', ');
    return { enabled: false, reason: `the development secrets are not generated yet (${files})` };
  }
  const reach = listen.loopbackOnly ? 'loopback only' : `beyond loopback: ${listen.reason}`;
  return {
    enabled: true,
    reason: `no WEBHOOK_SECRET, no CLIENT_ID, ${reach}`,
    webhookSecret: generatedWebhookSecret,
  };
}

/** A 32-byte key from base64 (44 chars) or hex (64 chars), or undefined if it is neither. */
export function parseKey(raw: string): Buffer | undefined {
  const value = raw.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length === 32 && bytes.toString('base64') === value) return bytes;
  return undefined;
}
