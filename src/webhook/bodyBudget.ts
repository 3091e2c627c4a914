// Counts the webhook body bytes buffered at once across all requests, so many bodies cannot exhaust memory.

/** One request's share of the budget; released once, whatever ends the request. */
export type BodyReservation = {
  /** Bytes this request holds now. */
  readonly bytes: number;
  /** Takes `count` more bytes; false (and nothing taken) when the budget cannot cover them. */
  add(count: number): boolean;
  /** Gives every byte back; later calls do nothing. */
  release(): void;
};

/**
 * Before its signature can be checked, a body has to be read into memory, and anyone can send
 * one. The per-request limit bounds one body; this bounds their sum, so a flood of large forged
 * bodies is answered 503 (Heap retries) instead of growing the heap until the process dies.
 */
export class WebhookBodyBudget {
  private used = 0;

  constructor(readonly capacityBytes: number) {}

  /** Body bytes buffered right now (for a metrics gauge; 0 when no webhook is being read). */
  get inUseBytes(): number {
    return this.used;
  }

  reserve(): BodyReservation {
    let held = 0;
    let released = false;
    return {
      get bytes() {
        return held;
      },
      add: (count) => {
        if (released || this.used + count > this.capacityBytes) return false;
        this.used += count;
        held += count;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.used -= held;
        held = 0;
      },
    };
  }
}
