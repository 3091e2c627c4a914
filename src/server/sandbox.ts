// The zero-config local sandbox: the Heap emulator, registered with this app's own client and development secret.
import type { Request } from 'express';
import { SANDBOX_EMULATOR_PATH, SANDBOX_REDIRECT_PATH, type Config } from '../config/index';
import type { Emulator } from '../emulator';
import { hostnamesOf, isAllowedEmulatorHost, requestOrigin } from '../emulator/hostCheck';
import type { AuthorizationEndpoints } from '../oauth/flow';

export const SANDBOX_APP_NAME = 'heap-partner-api (local sandbox)';

/** The app's own webhook paths: the only targets the sandbox delivers to. */
export const APP_WEBHOOK_PATHS = ['/webhook', '/users_sync', '/users_drain'] as const;

/**
 * When the sandbox is on (config.sandbox: development, no WEBHOOK_SECRET, no CLIENT_ID), the app
 * plays both sides: the emulator is Heap's OAuth provider and Developers Hub, and delivers to this
 * app's own webhook URL, signed with the generated development secret. It never gets Heap's real
 * secret: config.sandbox only carries a generated one, and the check below refuses anything else
 * should a hand-made Config get here. Undefined when the sandbox is off (always in production).
 */
export function createSandboxEmulator(config: Config): Emulator | undefined {
  const { sandbox, oauth } = config;
  if (!sandbox.enabled || config.production || !oauth.enabled || !oauth.sandbox) return undefined;
  if (config.webhook.secretSource !== 'generated') {
    throw new Error('The sandbox emulator signs only with the generated development secret');
  }
  // Loaded here, not at the top: a server without the sandbox (every one with WEBHOOK_SECRET
  // set, and every production one) never loads the emulator, its checker and its pages, which
  // took about 5 MB of its idle RSS.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createEmulator } = require('../emulator') as typeof import('../emulator');
  return createEmulator({
    clients: [
      {
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
        redirectUri: oauth.redirectUri,
        appName: SANDBOX_APP_NAME,
        // The browser may reach the app as localhost, 127.0.0.1, [::1], a LAN address or a
        // forwarded URL; the state cookie only comes back to the host that set it.
        sameOriginRedirectPath: SANDBOX_REDIRECT_PATH,
      },
    ],
    webhook: {
      url: `${config.publicUrl}/webhook`,
      secret: sandbox.webhookSecret,
      allowedUrls: APP_WEBHOOK_PATHS.map((path) => `${config.publicUrl}${path}`),
    },
    publicBaseUrl: oauth.heapBaseUrl,
    // HOST lets other machines in: they reach the server by one of its addresses.
    allowIpHosts: !config.listen.loopbackOnly,
  });
}

/**
 * The sandbox's Connect Heap endpoints on the origin this request was addressed to (X-Forwarded-*
 * only from TRUST_PROXY hops), so that the whole round trip stays on the host the browser uses and
 * the state cookie comes back. Only for a Host the emulator itself would answer (loopback, the
 * public URL's host, an IP address when HOST reaches beyond loopback): otherwise undefined, and
 * the configured PUBLIC_URL endpoints apply, as outside the sandbox.
 */
export function sandboxEndpointsFor(
  req: Request,
  config: Config,
): AuthorizationEndpoints | undefined {
  const oauth = config.oauth;
  if (!config.sandbox.enabled || config.production || !oauth.enabled || !oauth.sandbox) {
    return undefined;
  }
  const own = hostnamesOf([oauth.heapBaseUrl]);
  if (!isAllowedEmulatorHost(req.headers.host, own, !config.listen.loopbackOnly)) return undefined;
  const origin = requestOrigin(req);
  if (origin === undefined) return undefined;
  return {
    redirectUri: `${origin}${SANDBOX_REDIRECT_PATH}`,
    authorizeBaseUrl: `${origin}${SANDBOX_EMULATOR_PATH}`,
  };
}

/** The Developers Hub page of a sandbox emulator. */
export function sandboxHubUrl(config: Config): string | undefined {
  const oauth = config.oauth;
  return config.sandbox.enabled && oauth.enabled && oauth.sandbox
    ? `${oauth.heapBaseUrl}/developers-hub`
    : undefined;
}
