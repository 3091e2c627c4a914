// Reading environment variables: the one reader of process.env (with `.env`), and the parsers every setting goes through.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import bytes from 'bytes';
import dotenv from 'dotenv';

export type Environment = Record<string, string | undefined>;

/** process.env over the `.env` file in `cwd` (real environment variables win, as with dotenv). */
export function readEnvironment(cwd: string = process.cwd()): Environment {
  const file = path.join(cwd, '.env');
  const fromFile = existsSync(file) ? dotenv.parse(readFileSync(file)) : {};
  return { ...fromFile, ...process.env };
}

/** The value as given, or undefined when it is unset or blank (blank means unset everywhere). */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** The first of `names` that is set (not blank), as given: for a setting with fallback names. */
export function firstSet(env: Environment, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = nonEmpty(env[name]);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** A whole number from `min` to `max`; anything else is a problem and gives the fallback. */
export function integer(
  env: Environment,
  name: string,
  fallback: number,
  min: number,
  max: number,
  problems: string[],
): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw.trim());
  if (!/^[0-9]+$/.test(raw.trim()) || value < min || value > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return value;
}

/** `true` or `false`, nothing looser: a typo must not silently mean either. */
export function boolean(
  env: Environment,
  name: string,
  fallback: boolean,
  problems: string[],
): boolean {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  problems.push(`${name} must be true or false (got "${raw}")`);
  return fallback;
}

/** An http(s) origin (or origin and path prefix), without a trailing slash. */
export function origin(
  env: Environment,
  name: string,
  fallback: string,
  problems: string[],
): string {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  try {
    const url = new URL(raw.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('scheme');
    return url.href.replace(/\/+$/, '');
  } catch {
    problems.push(`${name} must be an http(s) URL such as https://example.com (got "${raw}")`);
    return fallback;
  }
}

export function oneOf<T extends string>(
  env: Environment,
  name: string,
  allowed: readonly T[],
  fallback: T,
  problems: string[],
): T {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
  return fallback;
}

/** A size such as `16mb` or `1048576`, at least 1 KiB; 0 when it is not one (a problem). */
export function byteSize(
  env: Environment,
  name: string,
  fallback: string,
  problems: string[],
): number {
  const raw = nonEmpty(env[name]) ?? fallback;
  const value = bytes.parse(raw.trim());
  if (value === null || !Number.isFinite(value) || value < 1024) {
    problems.push(`${name} must be a size such as 16mb or 1048576 of at least 1kb (got "${raw}")`);
    return 0;
  }
  return value;
}
