// Logs refused webhook requests without letting a flood of them flood the log: debug each, info a summary a minute.

export const REFUSAL_SUMMARY_MS = 60_000;

/** The two levels it writes at, in pino's (object, message) call shape. */
export type RefusalLogger = {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
};

/**
 * Each refusal is logged at debug. At info, the first refusal after a quiet minute is logged at
 * once (someone trying the CLI with a wrong secret sees why), and then at most one line a minute
 * sums up what was refused since, by reason and status. Memory is one counter per distinct
 * reason/status pair (a small fixed set).
 */
export class RefusalLog {
  private window: { counts: Map<string, number>; timer: NodeJS.Timeout } | undefined;

  constructor(
    private readonly logger: RefusalLogger,
    private readonly windowMs: number = REFUSAL_SUMMARY_MS,
  ) {}

  refused(fields: { path: string; status: number; reason: string }): void {
    this.logger.debug(fields, 'webhook refused');
    if (!this.window) {
      this.logger.info(fields, 'webhook refused (refusals are summed up at most once a minute)');
      this.open();
      return;
    }
    const key = `${fields.status} ${fields.reason}`;
    const counts = this.window.counts;
    if (counts.has(key) || counts.size < 64) counts.set(key, (counts.get(key) ?? 0) + 1);
  }

  private open(): void {
    const timer = setTimeout(() => this.summarise(), this.windowMs);
    timer.unref();
    this.window = { counts: new Map(), timer };
  }

  private summarise(): void {
    const counts = this.window?.counts;
    this.window = undefined;
    if (!counts || counts.size === 0) return;
    const refused = Object.fromEntries(counts);
    const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
    this.logger.info({ refused, total }, 'webhook refusals in the last minute');
    // Still refusing: the next summary comes a minute later, not a line for the next one.
    this.open();
  }
}
