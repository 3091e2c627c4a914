// Parses admin query and path values into typed options; a bad value is an error naming the parameter.

export type Param<T> = { ok: true; value: T } | { ok: false; message: string };

const MAX_SAFE_ID = Number.MAX_SAFE_INTEGER;

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}

/** A query value given at most once (`?a=1&a=2` is refused rather than guessed at). */
function single(raw: unknown, name: string): Param<string | undefined> {
  if (raw === undefined || raw === '') return { ok: true, value: undefined };
  if (typeof raw !== 'string') return fail(`${name} must be given once, as a plain value.`);
  return { ok: true, value: raw };
}

export function integerParam(
  raw: unknown,
  name: string,
  options: { min: number; max: number; fallback?: number },
): Param<number | undefined> {
  const text = single(raw, name);
  if (!text.ok) return text;
  if (text.value === undefined) return { ok: true, value: options.fallback };
  const value = Number(text.value);
  if (!/^\d+$/.test(text.value) || value < options.min || value > options.max) {
    return fail(`${name} must be a whole number from ${options.min} to ${options.max}.`);
  }
  return { ok: true, value };
}

export function limitParam(raw: unknown, fallback: number, max: number): Param<number> {
  return integerParam(raw, 'limit', { min: 1, max, fallback }) as Param<number>;
}

export function segmentIdParam(raw: unknown): Param<number> {
  const parsed = integerParam(raw, 'segment_id', { min: 0, max: MAX_SAFE_ID });
  if (parsed.ok && parsed.value === undefined) return fail('segment_id is required.');
  return parsed as Param<number>;
}

export function textParam(raw: unknown, name: string, maxLength = 1024): Param<string | undefined> {
  const text = single(raw, name);
  if (!text.ok || text.value === undefined) return text;
  if (text.value.length > maxLength)
    return fail(`${name} must be at most ${maxLength} characters.`);
  return text;
}

export function enumParam<T extends string>(
  raw: unknown,
  name: string,
  allowed: readonly T[],
): Param<T | undefined> {
  const text = single(raw, name);
  if (!text.ok || text.value === undefined) return text as Param<undefined>;
  if (!(allowed as readonly string[]).includes(text.value)) {
    return fail(`${name} must be one of ${allowed.join(', ')}.`);
  }
  return { ok: true, value: text.value as T };
}

/** A time as unix milliseconds or an ISO 8601 date-time (`2025-01-31T12:00:00Z`). */
export function timeParam(raw: unknown, name: string): Param<number | undefined> {
  const text = single(raw, name);
  if (!text.ok || text.value === undefined) return text as Param<undefined>;
  if (/^\d{1,15}$/.test(text.value)) return { ok: true, value: Number(text.value) };
  const ms = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.value)
    ? Date.parse(text.value)
    : NaN;
  if (Number.isNaN(ms)) {
    return fail(
      `${name} must be unix milliseconds or an ISO 8601 time such as 2025-01-31T12:00:00Z.`,
    );
  }
  return { ok: true, value: ms };
}
