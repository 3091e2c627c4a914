// A cookie-keeping HTTP client that walks redirects by hand at a chosen origin: directly (Host) or as a proxy would forward it (X-Forwarded-*).
import type { IncomingHttpHeaders } from 'node:http';
import { rawRequest, type HttpResponse } from './rawHttp';

export type Hop = HttpResponse & { location: string | undefined };

/**
 * A browser at an origin of the test's choosing that really talks to 127.0.0.1:`port`. With
 * `forwardedBy` it plays a reverse proxy too: each request arrives with Host 127.0.0.1:port and
 * the browser's host and scheme in X-Forwarded-Host/-Proto, as a proxy (or a dev container's
 * port forwarding) sends them. Extra headers on every request model a forger.
 */
export class OriginClient {
  readonly cookies = new Map<string, string>();

  constructor(
    private readonly port: number,
    private readonly options: { forwardedBy?: 'proxy'; headers?: Record<string, string> } = {},
  ) {}

  async request(
    url: string,
    init: { method?: string; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Hop> {
    const target = new URL(url);
    const addressing: Record<string, string> =
      this.options.forwardedBy === 'proxy'
        ? {
            host: `127.0.0.1:${this.port}`,
            'x-forwarded-host': target.host,
            'x-forwarded-proto': target.protocol.replace(/:$/, ''),
            'x-forwarded-for': '198.51.100.7',
          }
        : { host: target.host };
    const headers: Record<string, string> = {
      ...addressing,
      ...this.options.headers,
      ...init.headers,
    };
    if (this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const res = await rawRequest({
      port: this.port,
      method: init.method ?? 'GET',
      path: `${target.pathname}${target.search}`,
      headers,
      body: init.body,
    });
    this.keepCookies(res.headers);
    const location = res.headers.location;
    return { ...res, location: location === undefined ? undefined : new URL(location, url).href };
  }

  private keepCookies(headers: IncomingHttpHeaders): void {
    for (const line of headers['set-cookie'] ?? []) {
      const [pair] = line.split(';');
      const [name, ...value] = pair.split('=');
      if (/Expires=Thu, 01 Jan 1970/i.test(line) || value.join('=') === '') {
        this.cookies.delete(name);
      } else {
        this.cookies.set(name, value.join('='));
      }
    }
  }
}

/** The consent form's nonce and default fields, as the emulator renders them. */
export function consentFields(page: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of page.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
    fields[match[1]] = match[2].replace(/&amp;/g, '&');
  }
  return fields;
}

/**
 * Connect Heap at `origin`: the dashboard's button, the consent page, Approve, the callback.
 * Returns every hop; stops (with what it has) at the first one that is not what a browser would
 * follow.
 */
export async function connectAt(client: OriginClient, origin: string) {
  const authorize = await client.request(`${origin}/api/authorize`, { method: 'POST' });
  const consentUrl = authorize.location ?? '';
  const consent = await client.request(consentUrl);
  const decided = await client.request(new URL(consentUrl).href.split('?')[0], {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...consentFields(consent.body), decision: 'approve' }).toString(),
  });
  const callbackUrl = decided.location ?? '';
  const callback = callbackUrl === '' ? undefined : await client.request(callbackUrl);
  return { authorize, consentUrl, consent, decided, callbackUrl, callback };
}
