// The zero-config local sandbox: the Heap emulator, registered with this app's own client and secret.
import type { Config } from './config';
import { createEmulator, type Emulator } from './emulator';

export const SANDBOX_APP_NAME = 'heap-partner-api (local sandbox)';

/**
 * In development without CLIENT_ID the app plays both sides: the emulator is Heap's OAuth
 * provider and Developers Hub, and delivers to this app's /webhook with the development secret.
 * Undefined when the sandbox is off (always in production).
 */
export function createSandboxEmulator(config: Config): Emulator | undefined {
  const oauth = config.oauth;
  if (config.production || !oauth.enabled || !oauth.sandbox) return undefined;
  return createEmulator({
    clients: [
      {
        clientId: oauth.clientId,
        clientSecret: oauth.clientSecret,
        redirectUri: oauth.redirectUri,
        appName: SANDBOX_APP_NAME,
      },
    ],
    webhook: { url: `${config.publicUrl}/webhook`, secret: config.webhook.secrets[0] },
    publicBaseUrl: oauth.heapBaseUrl,
  });
}

/** The Developers Hub page of a sandbox emulator. */
export function sandboxHubUrl(config: Config): string | undefined {
  const oauth = config.oauth;
  return oauth.enabled && oauth.sandbox ? `${oauth.heapBaseUrl}/developers-hub` : undefined;
}
