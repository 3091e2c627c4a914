// Encrypts access tokens at rest with AES-256-GCM; the connection's id_token is bound in as AAD.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const IV_BYTES = 12;
/**
 * GCM accepts tags of 4 to 16 bytes unless told otherwise: pinned, so a value whose tag was cut
 * short (a far easier forgery) is refused instead of checked against fewer bits.
 */
const TAG_BYTES = 16;

/**
 * `v1:<iv>:<tag>:<ciphertext>` (base64url). Binding the id_token as additional authenticated
 * data means a ciphertext copied onto another connection's row fails to decrypt.
 */
export function encryptToken(key: Buffer, plaintext: string, boundTo: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(boundTo, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join(':');
}

/** The key tokens are sealed with, and during a rotation the one they may still be sealed with. */
export type TokenKeys = { current: Buffer; previous?: Buffer };

/**
 * Opens a token with the current key, then the previous one. `stale` says it was sealed with the
 * previous key, so the caller should seal it again with the current one.
 */
export function openToken(
  keys: TokenKeys,
  sealed: string,
  boundTo: string,
): { plaintext: string; stale: boolean } | undefined {
  const plaintext = decryptToken(keys.current, sealed, boundTo);
  if (plaintext !== undefined) return { plaintext, stale: false };
  if (!keys.previous) return undefined;
  const old = decryptToken(keys.previous, sealed, boundTo);
  return old === undefined ? undefined : { plaintext: old, stale: true };
}

/** The plaintext, or undefined if the value was tampered with, bound elsewhere or keyed otherwise. */
export function decryptToken(key: Buffer, sealed: string, boundTo: string): string | undefined {
  const [version, iv, tag, ciphertext] = sealed.split(':');
  if (version !== VERSION || !iv || !tag || ciphertext === undefined) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(boundTo, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([
      decipher.update(Buffer.from(ciphertext, 'base64url')),
      decipher.final(),
    ]).toString('utf8');
  } catch {
    return undefined;
  }
}
