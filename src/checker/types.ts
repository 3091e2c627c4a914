// The conformance checker's public shapes: options, one check's result, the scorecard, progress events.

export type CheckGroup = 'signing' | 'raw-bytes' | 'protocol' | 'variants' | 'state';

export const CHECK_GROUPS: readonly CheckGroup[] = [
  'signing',
  'raw-bytes',
  'protocol',
  'variants',
  'state',
];

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'skip';

/** Where the state-aware checks read what the receiver stored: our admin API (admin_api.yaml). */
export type AdminTarget = { url: string; token: string };

export type RunOptions = {
  /** The receiver's webhook URL (http or https). */
  url: string;
  /** The webhook secret the receiver verifies with. */
  secret: string;
  /** id_token put in every payload (default: a fixed checker token, its own tenant); '' for none. */
  idToken?: string;
  /** How long one request may take, as Heap's own timeout would (default 10 s). */
  timeoutMs?: number;
  /** Run only these check ids or groups (a group name, or an id prefix ending at a dot). */
  only?: readonly string[];
  /** Do not run these check ids or groups. */
  skip?: readonly string[];
  /** Turns on the state-aware checks: the target is one of ours and its admin API is here. */
  admin?: AdminTarget;
  /** Stops the run: requests in flight are cancelled, the remaining checks are skipped. */
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
};

export type CheckResult = {
  id: string;
  group: CheckGroup;
  title: string;
  status: CheckStatus;
  /** What was sent, in a short human sentence (never the secret). */
  sent: string;
  /** What came back: status and a capped body excerpt, or the transport failure. */
  received: string;
  /** Why the outcome is what it is, beyond sent/received (e.g. which member was wrong). */
  detail?: string;
  /** Why the check matters. */
  why: string;
  /** How to fix a failure or warning. */
  fix: string;
  durationMs: number;
};

export type Totals = Record<CheckStatus, number>;

export type Scorecard = {
  url: string;
  /** Whether the state-aware checks ran (an admin API was given). */
  stateAware: boolean;
  startedAt: string;
  durationMs: number;
  results: CheckResult[];
  totals: Totals;
  /** Passed checks as a whole percentage of the checks that ran (pass + fail + warn). */
  score: number;
  /** True when no check failed (warnings allowed): the CLI's exit status 0. */
  ok: boolean;
  /** Set when the run was stopped through `signal` before every check ran. */
  cancelled?: boolean;
};

export type ProgressEvent =
  | { type: 'start'; id: string; title: string; index: number; total: number }
  | { type: 'result'; result: CheckResult; index: number; total: number };
