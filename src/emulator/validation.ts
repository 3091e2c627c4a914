// Field-by-field checks for the emulator's inputs; each failure names the field it is about.

export type FieldError = { ok: false; field: string; message: string };
export type Checked<T> = { ok: true; value: T } | FieldError;

/** Heap's segment ids are non-negative integers up to 2^53-1 (see webhook_spec.yaml). */
export const MAX_SEGMENT_ID = Number.MAX_SAFE_INTEGER;

export function fieldError(field: string, message: string): FieldError {
  return { ok: false, field, message };
}

/**
 * The body (or the object at `field`) with keys only from `allowed`: a typo must not be silently
 * ignored. An absent body is an empty one.
 */
export function objectBody(
  body: unknown,
  allowed: readonly string[],
  field = 'body',
): Checked<Record<string, unknown>> {
  if (body === undefined) return { ok: true, value: {} };
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return fieldError(field, `The ${field} must be a JSON object.`);
  }
  const unknown = Object.keys(body).find((key) => !allowed.includes(key));
  if (unknown !== undefined) {
    const name = field === 'body' ? unknown : `${field}.${unknown}`;
    return fieldError(name, `Unknown field "${name}"; expected ${allowed.join(', ')}.`);
  }
  return { ok: true, value: body as Record<string, unknown> };
}

export function wholeNumber(
  value: unknown,
  field: string,
  min: number,
  max: number,
): Checked<number> {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    return fieldError(field, `${field} must be a whole number from ${min} to ${max}.`);
  }
  return { ok: true, value };
}

export function optionalWholeNumber(
  value: unknown,
  field: string,
  min: number,
  max: number,
): Checked<number | undefined> {
  return value === undefined ? { ok: true, value: undefined } : wholeNumber(value, field, min, max);
}

export function optionalText(
  value: unknown,
  field: string,
  maxLength: number,
): Checked<string | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  if (typeof value !== 'string' || value.trim() === '' || value.length > maxLength) {
    return fieldError(
      field,
      `${field} must be a non-empty string of at most ${maxLength} characters.`,
    );
  }
  return { ok: true, value };
}

/** An absolute http(s) URL without credentials or fragment. */
export function isHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    url.username === '' &&
    url.password === '' &&
    url.hash === '' &&
    !value.includes('#')
  );
}

export function httpUrl(value: unknown, field: string): Checked<string> {
  if (typeof value !== 'string' || value.length > 2048 || !isHttpUrl(value)) {
    return fieldError(field, `${field} must be an absolute http(s) URL without a fragment.`);
  }
  return { ok: true, value };
}
