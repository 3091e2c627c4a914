// Stored access tokens through a key rotation: read with either key, re-sealed with the current one.
import type { Config } from '../config/index';
import type { ConnectionStore } from '../store/types';
import { encryptToken, openToken, type TokenKeys } from './tokenCipher';

/** The configured token keys, or undefined when no TOKEN_ENCRYPTION_KEY is available. */
export function tokenKeys(config: Config): TokenKeys | undefined {
  if (!config.tokenEncryptionKey) return undefined;
  return { current: config.tokenEncryptionKey, previous: config.tokenEncryptionKeyPrevious };
}

/**
 * A connection's access token in plaintext, or undefined when it has none or no key opens it.
 * A token still sealed with the previous key is sealed again with the current one on the way,
 * so tokens move to the new key as they are used, before `npm run rotate-token-key` is run.
 */
export async function readAccessToken(
  store: ConnectionStore,
  keys: TokenKeys,
  idToken: string,
): Promise<string | undefined> {
  const sealed = await store.getSealedAccessToken(idToken);
  if (sealed === undefined) return undefined;
  const opened = openToken(keys, sealed, idToken);
  if (!opened) return undefined;
  if (opened.stale) {
    // If the connection changed meanwhile, the newer token stays; this one is still valid to use.
    await store.replaceSealedAccessToken(
      idToken,
      sealed,
      encryptToken(keys.current, opened.plaintext, idToken),
    );
  }
  return opened.plaintext;
}

export type ResealReport = {
  /** Were sealed with the previous key; now sealed with the current one. */
  resealed: number;
  /** Already sealed with the current key. */
  current: number;
  /** Open with neither key (a key is missing or wrong): these customers must authorize again. */
  unreadable: string[];
  /** Re-authorized or disconnected while being re-sealed: the newer value was kept. */
  changed: number;
};

/** Seals every stored token with the current key, a page at a time. */
export async function resealAccessTokens(
  store: ConnectionStore,
  keys: TokenKeys,
  pageSize = 200,
): Promise<ResealReport> {
  const report: ResealReport = { resealed: 0, current: 0, unreadable: [], changed: 0 };
  let after: string | undefined;
  for (;;) {
    const page = await store.listSealedAccessTokens({ after, limit: pageSize });
    for (const { idToken, sealed } of page) {
      const opened = openToken(keys, sealed, idToken);
      if (!opened) report.unreadable.push(idToken);
      else if (!opened.stale) report.current += 1;
      else if (
        await store.replaceSealedAccessToken(
          idToken,
          sealed,
          encryptToken(keys.current, opened.plaintext, idToken),
        )
      ) {
        report.resealed += 1;
      } else report.changed += 1;
    }
    if (page.length < pageSize) return report;
    after = page[page.length - 1].idToken;
  }
}
