// How the SQLite change feed stores a delivery's user-id lists: JSON text when short, deflated when long.
import { deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * Lists whose JSON is shorter than this stay plain text. Each deflate call costs about 45 µs
 * however short the input (zlib's set-up), which on a 100-user page (two lists of ~1.6 KB) would
 * add ~3 % to the server's CPU per page for about 2 KB saved; from a few hundred ids on the
 * saving is most of the list for about 1 % of the page's CPU. Big pages (a segment's first sync,
 * the loads of issue 15's grown store) are where the feed's bytes are: about 30 bytes an id as
 * JSON, 12 deflated.
 */
export const DEFLATE_FROM_BYTES = 4096;

/**
 * Level 1: e-mail-like random ids deflate to 40 % of their JSON at the cheapest level (measured on
 * the grown store's 600 lists of 10,000 ids); higher levels cost several times the CPU on the
 * writer's thread for a few per cent more.
 */
const LEVEL = 1;

/** The column's value for a list: a JSON string, or that JSON deflated (a BLOB). */
export function encodeUserList(ids: readonly string[]): string | Buffer {
  const json = JSON.stringify(ids);
  return json.length < DEFLATE_FROM_BYTES ? json : deflateRawSync(json, { level: LEVEL });
}

/** Reads a column value back: TEXT is JSON (every row written before this, and short lists). */
export function decodeUserList(value: string | Uint8Array): string[] {
  const json = typeof value === 'string' ? value : inflateRawSync(value).toString('utf8');
  return JSON.parse(json) as string[];
}
