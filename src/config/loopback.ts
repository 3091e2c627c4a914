// Which host names and addresses are this machine's loopback: shared by the listen defaults and the sandbox's Host check.
import { isIP } from 'node:net';

/** The addresses the server binds in development unless HOST says otherwise. */
export const LOOPBACK_ADDRESSES = ['127.0.0.1', '::1'] as const;

/**
 * Whether `host` (a name or an address, IPv6 with or without brackets) only ever means this
 * machine: `localhost`, any `*.localhost` (RFC 6761 reserves them for loopback), 127.0.0.0/8, ::1.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) === 4) return name.startsWith('127.');
  if (isIP(name) === 6) return name === '::1' || name === '0:0:0:0:0:0:0:1';
  return false;
}
