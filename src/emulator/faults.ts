// Test hooks that make the OAuth provider misbehave, so a partner app's failure paths run over HTTP.
import type { Response } from 'express';
import { fieldError, objectBody, optionalWholeNumber, type Checked } from './validation';

export const FAULT_MODES = ['ok', '500', 'timeout', 'non_json', 'missing_fields'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];
export type FaultEndpoint = 'token' | 'metadata';

export type Faults = {
  token: FaultMode;
  metadata: FaultMode;
  /** How long a `timeout` fault holds the response: longer than the client waits. */
  holdMs: number;
};

export const DEFAULT_HOLD_MS = 30_000;
const MAX_HOLD_MS = 600_000;
const DEFAULT_FAULTS: Faults = { token: 'ok', metadata: 'ok', holdMs: DEFAULT_HOLD_MS };

/** What a half-broken provider might answer: a 200 without the fields a client needs. */
const INCOMPLETE_BODIES: Record<FaultEndpoint, object> = {
  token: { token_type: 'bearer' },
  metadata: { authorized_scope: 'segment' },
};

/** `{ token?, metadata?, hold_ms? }` from the hub API. */
export function parseFaults(body: unknown, current: Faults): Checked<Faults> {
  const object = objectBody(body, ['token', 'metadata', 'hold_ms']);
  if (!object.ok) return object;
  const next = { ...current };
  for (const endpoint of ['token', 'metadata'] as const) {
    const mode = object.value[endpoint];
    if (mode === undefined) continue;
    if (!FAULT_MODES.includes(mode as FaultMode)) {
      return fieldError(endpoint, `${endpoint} must be one of ${FAULT_MODES.join(', ')}.`);
    }
    next[endpoint] = mode as FaultMode;
  }
  const holdMs = optionalWholeNumber(object.value.hold_ms, 'hold_ms', 1, MAX_HOLD_MS);
  if (!holdMs.ok) return holdMs;
  if (holdMs.value !== undefined) next.holdMs = holdMs.value;
  return { ok: true, value: next };
}

export class FaultInjector {
  private faults: Faults = { ...DEFAULT_FAULTS };
  private readonly held = new Set<{ timer: NodeJS.Timeout; res: Response }>();

  get current(): Faults {
    return { ...this.faults };
  }

  set(faults: Faults): void {
    this.faults = { ...faults };
  }

  reset(): void {
    this.faults = { ...DEFAULT_FAULTS };
  }

  /** Answers with the configured fault and returns true, or returns false to let the real answer go. */
  intercept(endpoint: FaultEndpoint, res: Response): boolean {
    switch (this.faults[endpoint]) {
      case 'ok':
        return false;
      case '500':
        res.status(500).json({ error: 'server_error', error_description: 'Injected fault: 500.' });
        return true;
      case 'non_json':
        res
          .status(200)
          .type('html')
          .send('<html><body><h1>Heap is down for maintenance</h1></body></html>');
        return true;
      case 'missing_fields':
        res.status(200).json(INCOMPLETE_BODIES[endpoint]);
        return true;
      case 'timeout':
        this.hold(res);
        return true;
    }
  }

  /** Ends every held response, so a server can close. */
  releaseAll(): void {
    for (const entry of this.held) {
      clearTimeout(entry.timer);
      gatewayTimeout(entry.res);
    }
    this.held.clear();
  }

  private hold(res: Response): void {
    const entry = {
      res,
      timer: setTimeout(() => {
        this.held.delete(entry);
        gatewayTimeout(res);
      }, this.faults.holdMs),
    };
    this.held.add(entry);
    res.on('close', () => {
      clearTimeout(entry.timer);
      this.held.delete(entry);
    });
  }
}

function gatewayTimeout(res: Response): void {
  if (!res.headersSent) {
    res.status(504).json({ error: 'timeout', error_description: 'Injected fault: timeout.' });
  }
}
