// Identifiers as they appear in admin URLs: connection keys for tenants, and opaque paging cursors.
import { OWN_ENVIRONMENT } from '../store/types';

/** The connection key of the partner's own Heap environment (deliveries without an id_token). */
export const OWN_CONNECTION_KEY = 'own';

/**
 * A tenant's key in URLs: `own` for the own environment, else the id_token. An id_token that is
 * literally `own` or starts with `~` gets a `~` in front, so every key maps back to one tenant.
 */
export function connectionKey(tenant: string): string {
  if (tenant === OWN_ENVIRONMENT) return OWN_CONNECTION_KEY;
  return tenant === OWN_CONNECTION_KEY || tenant.startsWith('~') ? `~${tenant}` : tenant;
}

export function tenantOfKey(key: string): string {
  if (key === OWN_CONNECTION_KEY) return OWN_ENVIRONMENT;
  return key.startsWith('~') ? key.slice(1) : key;
}

const MAX_CURSOR_LENGTH = 4096;

/** An opaque cursor: clients pass it back unchanged and must not depend on what is inside. */
export function encodeCursor(position: string | number): string {
  return Buffer.from(JSON.stringify({ p: position }), 'utf8').toString('base64url');
}

/** The position in a cursor, or undefined when it is not one of ours. */
export function decodeCursor<T extends 'string' | 'number'>(
  cursor: string,
  type: T,
): (T extends 'string' ? string : number) | undefined {
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  try {
    const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    const position = (decoded as { p?: unknown } | null)?.p;
    if (typeof position !== type) return undefined;
    if (typeof position === 'number' && !Number.isSafeInteger(position)) return undefined;
    return position as T extends 'string' ? string : number;
  } catch {
    return undefined;
  }
}
