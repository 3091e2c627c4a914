// How clients reach the app: PUBLIC_URL, the proxies trusted for X-Forwarded-* (TRUST_PROXY), Secure cookies and HSTS.
import { isIP } from 'node:net';
import { nonEmpty, origin, type Environment } from './env';

export type TrustProxy = boolean | number | string[];

export type ProxySettings = {
  publicUrl: string;
  trustProxy: TrustProxy;
  secureCookies: boolean;
  hsts: boolean;
};

export function proxySettings(
  env: Environment,
  production: boolean,
  port: number,
  problems: string[],
  warnings: string[],
): ProxySettings {
  const publicUrl = origin(env, 'PUBLIC_URL', `http://localhost:${port}`, problems);
  return {
    publicUrl,
    trustProxy: trustProxySetting(env, production, problems, warnings),
    secureCookies: production || publicUrl.startsWith('https:'),
    hsts: publicUrl.startsWith('https:'),
  };
}

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * TRUST_PROXY as Express understands it. Unset trusts nothing. `true` would let every client
 * pick its own address with X-Forwarded-For (and so a fresh sign-in throttle bucket per guess):
 * refused in production, a warning in development.
 */
function trustProxySetting(
  env: Environment,
  production: boolean,
  problems: string[],
  warnings: string[],
): TrustProxy {
  const raw = nonEmpty(env.TRUST_PROXY)?.trim();
  if (raw === undefined || raw === 'false') return false;
  if (/^[0-9]+$/.test(raw)) {
    const hops = Number(raw);
    if (hops > 100) problems.push(`TRUST_PROXY hop count must be at most 100 (got "${raw}")`);
    return hops;
  }
  if (raw === 'true') {
    const why =
      'TRUST_PROXY=true trusts every X-Forwarded-For entry, so any client can claim any address and escape the admin sign-in throttle; set the number of proxies in front of the app instead (TRUST_PROXY=1 behind one load balancer) or their addresses/CIDRs';
    if (production) problems.push(why);
    else warnings.push(why);
    return true;
  }
  const entries = raw.split(',').map((entry) => entry.trim());
  const invalid = entries.filter(
    (entry) => !TRUST_PROXY_NAMES.has(entry) && !isAddressOrCidr(entry),
  );
  if (invalid.length > 0) {
    problems.push(
      `TRUST_PROXY must be a hop count (e.g. 1) or a comma-separated list of addresses, CIDRs, loopback, linklocal or uniquelocal (not understood: ${invalid.map((entry) => `"${entry}"`).join(', ')})`,
    );
    return false;
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  if (!/^[0-9]{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}
