// Tells "PostgreSQL is unreachable, overloaded or restarting" (answer 503, Heap retries) from real bugs.
import { StoreUnavailableError } from '../errors';

/**
 * SQLSTATE classes and codes that describe the server or the connection, not the statement:
 * 08 connection exception, 53 insufficient resources (too many connections, disk full),
 * 57P0x shutdown / crash / cannot connect now, 58 system error, 28 and 3D000 a login the server
 * refuses right now (e.g. a credential rotation in progress), 57014 a statement timeout,
 * 55P03 a lock timeout, 40001/40P01 serialisation failure or deadlock (retrying succeeds),
 * 25006 a read-only transaction (we are talking to a standby during a failover).
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0|58|28|3D000$|57014$|55P03$|40001$|40P01$|25006$)/;

/** Socket-level failures reported by Node. */
const UNAVAILABLE_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** node-postgres reports a lost connection, a pool wait or a read timeout with plain messages. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end/;

/** Whether the error is about reaching the server (so the connection must not be reused). */
export function isConnectionFailure(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (UNAVAILABLE_ERRNO.has(code) || /^(08|57P0)/.test(code)) return true;
  }
  return typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message);
}

/** Whether PostgreSQL, not the request, is the problem. */
export function isPostgresUnavailable(error: unknown): boolean {
  if (isConnectionFailure(error)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UNAVAILABLE_SQLSTATE.test(code);
}

/** StoreUnavailableError for the transient kind (the app answers 503), the error itself otherwise. */
export function asPostgresStoreError(error: unknown): unknown {
  if (!isPostgresUnavailable(error)) return error;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const detail = typeof code === 'string' ? code : String(message);
  return new StoreUnavailableError(`PostgreSQL is unavailable (${detail})`, { cause: error });
}
