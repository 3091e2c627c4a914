// E-mail-like bench user ids: spread over the key space like real identities, unique, reproducible from a seed.

/** murmur3's 32-bit finaliser: a bijection on 32-bit integers that spreads every input bit. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a few integers (not a bijection: for choices, not for uniqueness). */
export function hash32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const value of values) h = mix32((h ^ mix32(value)) + 0x7f4a7c15);
  return h;
}

const WORDS = [
  'alex', 'amber', 'billing', 'blue', 'carmen', 'chen', 'contact', 'dev', 'diego', 'eva',
  'finance', 'grace', 'hello', 'info', 'ivan', 'jules', 'kim', 'lena', 'marco', 'mia',
  'noah', 'ops', 'priya', 'quinn', 'rosa', 'sales', 'sam', 'team', 'tom', 'yuki', 'zoe', 'admin',
]; // prettier-ignore

const DOMAINS = [
  'gmail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'icloud.com', 'proton.me', 'aol.com',
  'gmx.de', 'web.de', 'orange.fr', 'free.fr', 'libero.it', 'yandex.ru', 'mail.ru', 'qq.com',
  '163.com', 'naver.com', 'uol.com.br', 'btinternet.com', 'comcast.net', 'verizon.net',
  'acme.io', 'globex.com', 'initech.com', 'umbrella.co', 'hooli.xyz', 'stark.dev', 'wayne.co',
  'wonka.org', 'cyberdyne.ai', 'tyrell.tech', 'soylent.net', 'aperture.io', 'blackmesa.org',
  'oscorp.com', 'vandelay.biz', 'dundermifflin.com', 'piedpiper.io', 'gringotts.uk',
  'monsters.inc', 'nakatomi.jp', 'octan.nl', 'massive.se', 'northwind.com', 'contoso.com',
  'fabrikam.com', 'tailspin.aero', 'adventure-works.com', 'example.org', 'bench.example',
]; // prettier-ignore

/** How many distinct domains ids use. */
export const DOMAIN_COUNT = DOMAINS.length;

const BASE36 = '0123456789abcdefghijklmnopqrstuvwxyz';

/** The part of the local part that makes ids unique: 7 base-36 digits (36^7 > 2^32). */
const UNIQUE_DIGITS = 7;

/**
 * The id of user `n` (0 ≤ n < 2^32) in `namespace` (a tenant, or a scenario), for `seed`:
 * `<1–7 random base-36 chars><7 base-36 chars>.<word>@<domain>`, so the local part is 8–14
 * characters and ids sort all over the key space, as customers' e-mail addresses do. Distinct n in
 * one (seed, namespace) give distinct ids: the last 7 characters of the first part are a bijection
 * of n (mix32 of n xor a key), and a longer random head makes a longer first part, never the same
 * string. Pure: the same arguments give the same id in every process.
 */
export function emailId(seed: number, namespace: number, n: number): string {
  const key = hash32(seed, namespace);
  let unique = mix32((n ^ key) >>> 0);
  let tail = '';
  for (let i = 0; i < UNIQUE_DIGITS; i++) {
    tail = BASE36[unique % 36] + tail;
    unique = Math.floor(unique / 36);
  }
  const r = hash32(seed, namespace, n, 1);
  const headLength = 1 + (r % 7);
  let head = '';
  let bits = hash32(seed, namespace, n, 2);
  for (let i = 0; i < headLength; i++) {
    // The first character is the one the key's order turns on: draw it from all 36 evenly.
    head += BASE36[bits % 36];
    bits = i % 4 === 3 ? hash32(seed, namespace, n, 3 + i) : Math.floor(bits / 36);
  }
  const word = WORDS[hash32(seed, namespace, n, 20) % WORDS.length];
  const domain = DOMAINS[hash32(seed, namespace, n, 21) % DOMAINS.length];
  return `${head}${tail}.${word}@${domain}`;
}
