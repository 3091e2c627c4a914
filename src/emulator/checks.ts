// The Developers Hub's "Check a receiver": runs the conformance checker (src/checker) against the configured webhook URL, one run at a time.
import { randomUUID } from 'node:crypto';
import { CHECKS, runChecks, type CheckResult, type RunOptions, type Scorecard } from '../checker';

export type CheckRunState = 'running' | 'finished' | 'cancelled';

export type CheckRunRecord = {
  id: string;
  state: CheckRunState;
  url: string;
  startedAt: number;
  /** Checks that will run (selected ones; the state-aware ones are skipped without an admin API). */
  total: number;
  /** The check being run now, while running. */
  current: string | null;
  /** Results so far, in catalogue order; the whole list once finished. */
  results: CheckResult[];
  /** Set once the run ended (finished or cancelled). */
  scorecard: Scorecard | null;
  /** Why the run ended without a scorecard (a bug in the checker), else null. */
  error: string | null;
};

export type CheckRequest = {
  idToken: string | undefined;
  only: string[] | undefined;
  skip: string[] | undefined;
};

export type CheckRunnerDeps = {
  /** Where the emulator delivers today: the checks go to the same URL. */
  webhookUrl: () => string;
  secret: string;
  /** Per request, as the emulator's own deliveries time out. */
  timeoutMs: number;
  now: () => number;
  /** Stands in for runChecks in tests of the panel's plumbing; the real checker otherwise. */
  run?: (options: RunOptions) => Promise<Scorecard>;
};

export type CheckStart =
  { ok: true; run: CheckRunRecord } | { ok: false; status: 409; error: string; message: string };

/**
 * One run at a time: a run sends a few hundred requests (one of them a 100,000-user page) to the
 * app, and two at once would only slow each other and the app. The last run stays readable until
 * the next starts, so the page can show its scorecard.
 */
export class CheckRunner {
  private latestRun: CheckRunRecord | null = null;
  private controller: AbortController | null = null;
  private pending: Promise<void> | null = null;

  constructor(private readonly deps: CheckRunnerDeps) {}

  get latest(): CheckRunRecord | null {
    return this.latestRun;
  }

  start(request: CheckRequest): CheckStart {
    if (this.latestRun?.state === 'running') {
      return {
        ok: false,
        status: 409,
        error: 'check_running',
        message: 'A check is already running; wait for its scorecard or cancel it.',
      };
    }
    const controller = new AbortController();
    const run: CheckRunRecord = {
      id: randomUUID(),
      state: 'running',
      url: this.deps.webhookUrl(),
      startedAt: this.deps.now(),
      total: CHECKS.length,
      current: null,
      results: [],
      scorecard: null,
      error: null,
    };
    this.latestRun = run;
    this.controller = controller;
    const execute = this.deps.run ?? runChecks;
    this.pending = execute({
      url: run.url,
      secret: this.deps.secret,
      ...(request.idToken === undefined ? {} : { idToken: request.idToken }),
      ...(request.only === undefined ? {} : { only: request.only }),
      ...(request.skip === undefined ? {} : { skip: request.skip }),
      timeoutMs: this.deps.timeoutMs,
      signal: controller.signal,
      onProgress: (event) => {
        if (event.type === 'start') {
          run.current = event.title;
        } else {
          run.results.push(event.result);
          run.current = null;
        }
      },
    })
      .then((scorecard) => {
        run.scorecard = scorecard;
        run.results = scorecard.results;
        run.state = scorecard.cancelled ? 'cancelled' : 'finished';
      })
      .catch((error: unknown) => {
        // runChecks reports each check's own failure in its result; reaching here is a checker bug,
        // shown as the run's end rather than left "running" forever.
        run.state = 'cancelled';
        run.current = null;
        run.error = `The checker stopped: ${error instanceof Error ? error.message : String(error)}`;
      })
      .finally(() => {
        if (this.controller === controller) this.controller = null;
      });
    return { ok: true, run };
  }

  /** Stops the running check (requests in flight are cancelled); false when none is running. */
  cancel(): boolean {
    if (!this.controller || this.latestRun?.state !== 'running') return false;
    this.controller.abort();
    return true;
  }

  /** Cancels a running check and waits for it to settle (the emulator's close()). */
  async close(): Promise<void> {
    this.controller?.abort();
    await this.pending;
  }
}
