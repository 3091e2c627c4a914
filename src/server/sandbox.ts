// The zero-config local sandbox: the Heap emulator, registered with this app's own client and development secret.
import type { Config } from '../config/index';
import { createEmulator, type Emulator } from '../emulator';

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
  return createEmulator({
    clients: [
      {
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
        redirectUri: oauth.redirectUri,
        appName: SANDBOX_APP_NAME,
      },
    ],
    webhook: {
      url: `${config.publicUrl}/webhook`,
      secret: sandbox.webhookSecret,
      allowedUrls: APP_WEBHOOK_PATHS.map((path) => `${config.publicUrl}${path}`),
    },
    publicBaseUrl: oauth.heapBaseUrl,
  });
}

/** The Developers Hub page of a sandbox emulator. */
export function sandboxHubUrl(config: Config): string | undefined {
  const oauth = config.oauth;
  return config.sandbox.enabled && oauth.enabled && oauth.sandbox
    ? `${oauth.heapBaseUrl}/developers-hub`
    : undefined;
}
