// The emulator answers only requests addressed to loopback or its own public host (DNS rebinding defence).
import type { RequestHandler } from 'express';
import { isLoopbackHost } from '../config/loopback';

/** `name`, `name:port`, `[v6]` or `[v6]:port`; nothing else is a Host header we could trust. */
const HOST_HEADER = /^(?:([A-Za-z0-9.-]+)|\[([0-9A-Fa-f:.]+)\])(?::[0-9]{1,5})?$/;

/**
 * Whether a request whose Host header is `host` may use the emulator: a loopback name, or the
 * host the emulator is published at (`ownHostnames`, from its public URL). A web page on another
 * site can make a browser send requests to 127.0.0.1 by re-pointing its own name there (DNS
 * rebinding), but the browser still sends that site's name as Host, so refusing unknown names
 * keeps such pages away from the emulator. Widen here, and only here, to admit more origins.
 */
export function isAllowedEmulatorHost(
  host: string | undefined,
  ownHostnames: readonly string[],
): boolean {
  const match = HOST_HEADER.exec(host ?? '');
  if (!match) return false;
  const hostname = (match[1] ?? match[2]).toLowerCase().replace(/\.$/, '');
  return isLoopbackHost(hostname) || ownHostnames.includes(hostname);
}

/** The host names of the given URLs, as isAllowedEmulatorHost compares them. */
export function hostnamesOf(urls: readonly (string | undefined)[]): string[] {
  return urls
    .filter((url): url is string => url !== undefined)
    .map((url) => new URL(url).hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1'));
}

/** Answers 403 `host_not_allowed` (the emulator's JSON error style) to any other Host. */
export function requireAllowedHost(ownHostnames: readonly string[]): RequestHandler {
  return (req, res, next) => {
    if (isAllowedEmulatorHost(req.headers.host, ownHostnames)) {
      next();
      return;
    }
    res.status(403).json({
      error: 'host_not_allowed',
      message:
        'The Heap emulator answers only requests addressed to localhost, 127.0.0.1, [::1] or its own public URL.',
    });
  };
}
