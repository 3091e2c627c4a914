// What createEmulator accepts (partner apps, webhook target, retry policy) and its checked defaults.
import { isHttpUrl } from './validation';

/** A partner app registered in the Developers Hub. */
export type EmulatorClient = {
  clientId: string;
  clientSecret: string;
  /** The one redirect URI Heap accepts for this app, compared exactly. */
  redirectUri: string;
  appName: string;
  /** Heap's numeric id for the app, reported by the metadata endpoint (default 1001, 1002, …). */
  partnerAppId?: number;
  /**
   * Also accept this path on the very origin the authorization request was addressed to, and
   * only there (the sandbox: the app and the emulator share a server, so whichever address the
   * browser uses for one is the app's address too). Never an origin the request did not come to.
   */
  sameOriginRedirectPath?: string;
};

/** How the Developers Hub retries a delivery: exponential backoff with full jitter. */
export type RetryPolicy = {
  /** Attempts per delivery, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** How long one attempt may take before it counts as failed. */
  timeoutMs: number;
};

export type EmulatorOptions = {
  clients: EmulatorClient[];
  /** Where deliveries go and the secret they are signed with (never shown by the emulator). */
  webhook: {
    url: string;
    secret: string;
    /**
     * The only URLs `PUT /api/hub/webhook` may point deliveries at (the app's own, when mounted
     * in it); any http(s) URL when absent (the standalone emulator on loopback).
     */
    allowedUrls?: string[];
  };
  /** Absolute URL of the mount point, for links; derived from each request when absent. */
  publicBaseUrl?: string;
  /**
   * Answer requests addressed to an IP address too, not only to loopback names and the public
   * URL's host (a server listening beyond loopback, reached by its LAN or VM address).
   */
  allowIpHosts?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Lifetime of an authorization code (Heap: 60 s); tests shorten it or move the clock. */
  codeTtlMs?: number;
  /** Current time in unix ms; tests inject one to expire codes without sleeping. */
  now?: () => number;
  /** Uniform in [0, 1); tests inject one to pin the jitter. */
  random?: () => number;
};

export type ResolvedClient = Required<Omit<EmulatorClient, 'sameOriginRedirectPath'>> &
  Pick<EmulatorClient, 'sameOriginRedirectPath'>;

export type ResolvedOptions = {
  clients: ResolvedClient[];
  webhook: { url: string; secret: string; allowedUrls: string[] | undefined };
  publicBaseUrl: string | undefined;
  allowIpHosts: boolean;
  retry: RetryPolicy;
  codeTtlMs: number;
  now: () => number;
  random: () => number;
};

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  timeoutMs: 10_000,
};
export const DEFAULT_CODE_TTL_MS = 60_000;
const FIRST_PARTNER_APP_ID = 1001;

/** Fills in defaults, or lists every problem: invalid options are a programming error. */
export function resolveOptions(
  options: EmulatorOptions,
): { ok: true; options: ResolvedOptions } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  if (!Array.isArray(options.clients) || options.clients.length === 0) {
    problems.push('clients: register at least one partner app');
  }
  const seen = new Set<string>();
  const clients = (options.clients ?? []).map((client, index) => {
    const where = `clients[${index}]`;
    if (!client.clientId) problems.push(`${where}.clientId must not be empty`);
    if (seen.has(client.clientId)) problems.push(`${where}.clientId is registered twice`);
    seen.add(client.clientId);
    if (!client.clientSecret) problems.push(`${where}.clientSecret must not be empty`);
    if (!isHttpUrl(client.redirectUri)) {
      problems.push(`${where}.redirectUri must be an absolute http(s) URL without a fragment`);
    }
    if (!client.appName) problems.push(`${where}.appName must not be empty`);
    const samePath = client.sameOriginRedirectPath;
    if (samePath !== undefined && !/^\/[A-Za-z0-9._~/-]*$/.test(samePath)) {
      problems.push(
        `${where}.sameOriginRedirectPath must be a plain absolute path such as /callback`,
      );
    }
    return { ...client, partnerAppId: client.partnerAppId ?? FIRST_PARTNER_APP_ID + index };
  });
  if (!isHttpUrl(options.webhook?.url ?? '')) {
    problems.push('webhook.url must be an absolute http(s) URL');
  }
  if (!options.webhook?.secret) problems.push('webhook.secret must not be empty');
  const allowedUrls = options.webhook?.allowedUrls;
  if (allowedUrls !== undefined) {
    if (!allowedUrls.every(isHttpUrl)) {
      problems.push('webhook.allowedUrls must be absolute http(s) URLs');
    } else if (!allowedUrls.includes(options.webhook.url)) {
      problems.push('webhook.allowedUrls must include webhook.url');
    }
  }
  if (options.publicBaseUrl !== undefined && !isHttpUrl(options.publicBaseUrl)) {
    problems.push('publicBaseUrl must be an absolute http(s) URL');
  }
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const whole = (name: string, value: number, min: number) => {
    if (!Number.isInteger(value) || value < min) {
      problems.push(`${name} must be a whole number of at least ${min}`);
    }
  };
  whole('retry.maxAttempts', retry.maxAttempts, 1);
  whole('retry.baseDelayMs', retry.baseDelayMs, 0);
  whole('retry.maxDelayMs', retry.maxDelayMs, 0);
  whole('retry.timeoutMs', retry.timeoutMs, 1);
  const codeTtlMs = options.codeTtlMs ?? DEFAULT_CODE_TTL_MS;
  whole('codeTtlMs', codeTtlMs, 1);

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    options: {
      clients,
      webhook: { url: options.webhook.url, secret: options.webhook.secret, allowedUrls },
      publicBaseUrl: options.publicBaseUrl?.replace(/\/+$/, ''),
      allowIpHosts: options.allowIpHosts ?? false,
      retry,
      codeTtlMs,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
    },
  };
}
