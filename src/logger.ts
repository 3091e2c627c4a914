// The pino logger; redacts header and secret fields in case a caller ever logs a request.
import pino, { type DestinationStream, type Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: [
          'req.headers["heap-hash"]',
          'req.headers.authorization',
          'req.headers.cookie',
          '*.secret',
          '*.access_token',
          '*.hmac',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
