// Runs the conformance checks against one receiver URL and returns the scorecard; no CLI or HTTP-server concerns.
import { AdminReader } from './adminReader';
import { CHECKS, type CheckDefinition, type CheckOutcome } from './catalogue';
import { CheckContext, DEFAULT_CHECK_ID_TOKEN, DEFAULT_CHECK_TIMEOUT_MS } from './context';
import type { CheckResult, RunOptions, Scorecard, Totals } from './types';

/** Whether `selector` (a group, a check id, or an id prefix such as `signing.malformed`) names the check. */
export function selects(selector: string, check: Pick<CheckDefinition, 'id' | 'group'>): boolean {
  const s = selector.trim();
  return s === check.group || s === check.id || check.id.startsWith(`${s}.`);
}

/** Selectors that name no check: a typo would otherwise silently run nothing. */
export function unknownSelectors(selectors: readonly string[]): string[] {
  return selectors.filter((s) => !CHECKS.some((check) => selects(s, check)));
}

/** Why a check does not run with these options, or undefined when it runs. */
function skipReason(check: CheckDefinition, options: RunOptions): string | undefined {
  if (options.only?.length && !options.only.some((s) => selects(s, check)))
    return 'not selected (--only)';
  if (options.skip?.some((s) => selects(s, check))) return 'skipped (--skip)';
  if (check.needsAdmin && !options.admin) {
    return 'needs the admin API of the receiver (--admin-url, --admin-token)';
  }
  return undefined;
}

/** Runs every selected check in order (each sends its own requests) and scores the receiver. */
export async function runChecks(options: RunOptions): Promise<Scorecard> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const ctx = new CheckContext({
    url: options.url,
    secret: options.secret,
    // '' asks for none at all: the partner's own environment.
    idToken: options.idToken === '' ? undefined : (options.idToken ?? DEFAULT_CHECK_ID_TOKEN),
    timeoutMs,
    signal: options.signal,
    admin: options.admin ? new AdminReader(options.admin, timeoutMs, options.signal) : undefined,
  });
  const started = Date.now();
  const results: CheckResult[] = [];
  let cancelled = false;
  for (const [index, check] of CHECKS.entries()) {
    const total = CHECKS.length;
    const reason = options.signal?.aborted ? 'run cancelled' : skipReason(check, options);
    if (options.signal?.aborted) cancelled = true;
    if (reason === undefined)
      options.onProgress?.({ type: 'start', id: check.id, title: check.title, index, total });
    const checkStarted = performance.now();
    const outcome: CheckOutcome =
      reason === undefined
        ? await runOne(check, ctx)
        : { status: 'skip', sent: '', received: '', detail: reason };
    const result: CheckResult = {
      id: check.id,
      group: check.group,
      title: check.title,
      status: outcome.status,
      sent: outcome.sent,
      received: outcome.received,
      ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
      why: check.why,
      fix: check.fix,
      durationMs: Math.round(performance.now() - checkStarted),
    };
    results.push(result);
    options.onProgress?.({ type: 'result', result, index, total });
  }
  const totals: Totals = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const result of results) totals[result.status] += 1;
  const ran = totals.pass + totals.fail + totals.warn;
  return {
    url: options.url,
    stateAware: options.admin !== undefined,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results,
    totals,
    score: ran === 0 ? 0 : Math.floor((totals.pass * 100) / ran),
    ok: totals.fail === 0 && !cancelled,
    ...(cancelled ? { cancelled } : {}),
  };
}

/** A check that throws is a bug in the checker, reported as its failure rather than ending the run. */
async function runOne(check: CheckDefinition, ctx: CheckContext): Promise<CheckOutcome> {
  try {
    return await check.run(ctx);
  } catch (error) {
    return {
      status: 'fail',
      sent: '',
      received: '',
      detail: `the check itself failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

export { CHECKS };
