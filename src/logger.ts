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
    // Without a destination, stdout written asynchronously: a busy receiver then makes one write
    // per batch of lines instead of a blocking write per line; pino flushes what is left on exit.
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
