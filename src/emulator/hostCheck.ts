// The emulator answers only requests addressed to loopback, its own public host or (when asked) an IP address (DNS rebinding defence); and which origin a request was addressed to.
import { isIP } from 'node:net';
import type { Request, RequestHandler } from 'express';
import { isLoopbackHost } from '../config/loopback';

/** `name`, `name:port`, `[v6]` or `[v6]:port`; nothing else is a Host header we could trust. */
const HOST_HEADER = /^(?:([A-Za-z0-9.-]+)|\[([0-9A-Fa-f:.]+)\])(?::[0-9]{1,5})?$/;

/**
 * Whether a request whose Host header is `host` may use the emulator: a loopback name, the host
 * the emulator is published at (`ownHostnames`, from its public URL), or with `ipAddresses` any
 * IP address but the unspecified ones (a server listening beyond loopback, reached by its LAN or
 * VM address). A web page on another site can make a browser send requests to 127.0.0.1 by
 * re-pointing its own name there (DNS rebinding), but the browser still sends that site's *name*
 * as Host, so refusing unknown names keeps such pages away from the emulator; an address as Host
 * means the page itself was loaded from that address. Widen here, and only here, to admit more
 * origins.
 */
export function isAllowedEmulatorHost(
  host: string | undefined,
  ownHostnames: readonly string[],
  ipAddresses = false,
): boolean {
  const match = HOST_HEADER.exec(host ?? '');
  if (!match) return false;
  const hostname = (match[1] ?? match[2]).toLowerCase().replace(/\.$/, '');
  if (isLoopbackHost(hostname) || ownHostnames.includes(hostname)) return true;
  return ipAddresses && isIP(hostname) !== 0 && !isUnspecified(hostname);
}

function isUnspecified(address: string): boolean {
  return /^0+\.0+\.0+\.0+$/.test(address) || /^[0:]+$/.test(address);
}

/** The host names of the given URLs, as isAllowedEmulatorHost compares them. */
export function hostnamesOf(urls: readonly (string | undefined)[]): string[] {
  return urls
    .filter((url): url is string => url !== undefined)
    .map((url) => new URL(url).hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1'));
}

/**
 * The origin the browser addressed: the scheme and host as Express reads them, so from
 * X-Forwarded-Proto and X-Forwarded-Host only when 'trust proxy' trusts the hop that sent them
 * (TRUST_PROXY), else from the connection and the Host header. Undefined when they do not make a
 * plain origin (a host with a path, credentials or odd characters is never used to build a URL).
 */
export function requestOrigin(req: Request): string | undefined {
  const host = req.host;
  if (host === undefined || !HOST_HEADER.test(host)) return undefined;
  try {
    return new URL(`${req.protocol}://${host}`).origin;
  } catch {
    return undefined;
  }
}

/** Answers 403 `host_not_allowed` (the emulator's JSON error style) to any other Host. */
export function requireAllowedHost(
  ownHostnames: readonly string[],
  ipAddresses = false,
): RequestHandler {
  return (req, res, next) => {
    if (isAllowedEmulatorHost(req.headers.host, ownHostnames, ipAddresses)) {
      next();
      return;
    }
    res.status(403).json({
      error: 'host_not_allowed',
      message: ipAddresses
        ? 'The Heap emulator answers only requests addressed to localhost, an IP address of this server or its own public URL.'
        : 'The Heap emulator answers only requests addressed to localhost, 127.0.0.1, [::1] or its own public URL.',
    });
  };
}
