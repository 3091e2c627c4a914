// The pino logger; serializes errors and requests to safe fields and redacts credentials wherever they appear.
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Where a logged object may carry a credential. The serializers below reduce errors and
 * requests to safe fields whatever they hold; these paths are the second line, for headers or
 * an error's JSON (`error.toJSON()` keeps axios's config) logged as plain objects. Node
 * lower-cases incoming header names; axios keeps the case it was given. Named paths only, bar
 * three: every `*` wildcard is tried against every field of every line (2 to 5 µs a line each,
 * measured), and a delivery logs a line.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["heap-hash"]',
  'headers.authorization',
  'headers.Authorization',
  'headers.cookie',
  'headers.Cookie',
  'headers["set-cookie"]',
  'headers["heap-hash"]',
  'headers["Heap-Hash"]',
  'err.config.headers.Authorization',
  'err.config.headers.authorization',
  'err.config.data',
  'error.config.headers.Authorization',
  'error.config.headers.authorization',
  'error.config.data',
  'secret',
  'client_secret',
  'access_token',
  'hmac',
  '*.secret',
  '*.access_token',
  '*.hmac',
];

type HttpLikeError = Error & {
  isAxiosError?: boolean;
  code?: string;
  config?: { method?: string; url?: string };
  response?: { status?: number };
};

/** How deep nested errors (causes, wrapped errors) are followed. */
const MAX_ERROR_DEPTH = 3;

/**
 * An error as fields that cannot carry a request: an HTTP client error (axios) keeps in its
 * config the Authorization header and the request body (the client secret), and in its request
 * the raw header text. So an axios error becomes its code, status, method and origin (a path
 * can carry an id_token), and any other error keeps only its primitive fields (code, errno, a
 * database's detail, …) and its nested errors, never an object such as a config or a request.
 */
function serializeError(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) return value;
  const error = value as HttpLikeError;
  if (error.isAxiosError) {
    let origin: string | undefined;
    try {
      origin = error.config?.url ? new URL(error.config.url).origin : undefined;
    } catch {
      origin = undefined;
    }
    return {
      type: error.name,
      message: error.message,
      code: error.code,
      status: error.response?.status,
      method: error.config?.method?.toUpperCase(),
      origin,
      stack: error.stack,
    };
  }
  const serialized: Record<string, unknown> = {
    type: error.constructor?.name ?? error.name,
    message: error.message,
    stack: error.stack,
  };
  const fields = error as unknown as Record<string, unknown>;
  for (const key of [...Object.keys(error), 'cause']) {
    const field = fields[key];
    if (key in serialized || field === undefined) continue;
    if (field instanceof Error) {
      if (depth < MAX_ERROR_DEPTH) serialized[key] = serializeError(field, depth + 1);
    } else if (['string', 'number', 'boolean'].includes(typeof field)) {
      serialized[key] = field;
    }
  }
  if (error instanceof AggregateError && depth < MAX_ERROR_DEPTH) {
    serialized.errors = (error.errors as unknown[]).map((inner) =>
      serializeError(inner, depth + 1),
    );
  }
  return serialized;
}

type RequestLike = { method?: string; url?: string; originalUrl?: string; headers?: object };

/** A request as method, path (no query: it may hold an OAuth code or a sign-in code) and headers. */
function serializeRequest(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || !('headers' in value)) return value;
  const req = value as RequestLike;
  return {
    method: req.method,
    path: (req.originalUrl ?? req.url ?? '').split('?')[0],
    headers: { ...req.headers },
  };
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      serializers: {
        err: (value: unknown) => serializeError(value),
        error: (value: unknown) => serializeError(value),
        req: serializeRequest,
      },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    // Without a destination, stdout written asynchronously: a busy receiver then makes one write
    // per batch of lines instead of a blocking write per line; pino flushes what is left on exit.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
