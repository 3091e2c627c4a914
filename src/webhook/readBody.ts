// Reads a webhook body as the raw bytes on the wire, within the limit and a budget reservation; never inflates.
import type { IncomingMessage } from 'node:http';
import type { BodyReservation } from './bodyBudget';

/** Why a body was refused while it was being read (the checks before reading are receive.ts's). */
export type BodyReadRefusal =
  | { ok: false; status: 413; reason: 'payload_too_large' }
  | {
      ok: false;
      status: 503;
      reason: 'server_busy';
    };

export type BodyReadResult = { ok: true; body: Buffer } | BodyReadRefusal;

export type BodyReadLimits = {
  /** Largest body, in bytes as received. */
  limitBytes: number;
  /** This request's share of the shared budget (the declared length is already in it). */
  reservation: BodyReservation;
  /** The declared Content-Length, already checked against the limit and reserved whole. */
  declaredLength: number | undefined;
};

const TOO_LARGE: BodyReadRefusal = { ok: false, status: 413, reason: 'payload_too_large' };
const BUSY: BodyReadRefusal = { ok: false, status: 503, reason: 'server_busy' };

/**
 * Reads a node:http request body. With a declared length the bytes go straight into one buffer of
 * that size; a chunked body is kept as its chunks, each reserved as it arrives, and joined at the
 * end. On a refusal the rest of the body drains to nowhere, so the connection can carry the next
 * request. Resolves undefined when the client went away mid-body (nobody is left to answer).
 */
export function readNodeBody(
  req: IncomingMessage,
  { limitBytes, reservation, declaredLength }: BodyReadLimits,
): Promise<BodyReadResult | undefined> {
  return new Promise((resolve) => {
    const whole = declaredLength === undefined ? undefined : Buffer.allocUnsafe(declaredLength);
    let chunks: Buffer[] = [];
    let received = 0;

    const detach = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const stop = (refusal: BodyReadRefusal) => {
      detach();
      chunks = [];
      reservation.release();
      req.on('error', ignore);
      req.resume();
      resolve(refusal);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (whole) {
        // Node's parser never delivers more than the declared length.
        chunk.copy(whole, received - chunk.length);
        return;
      }
      if (received > limitBytes) stop(TOO_LARGE);
      else if (!reservation.add(chunk.length)) stop(BUSY);
      else chunks.push(chunk);
    };
    const onEnd = () => {
      detach();
      const body = whole ?? (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
      chunks = [];
      resolve({ ok: true, body });
    };
    const onError = () => {
      detach();
      chunks = [];
      reservation.release();
      req.on('error', ignore);
      resolve(undefined);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * Reads a Fetch-API body stream with the same limit and budget: chunk by chunk, each reserved as
 * it arrives, cancelled as soon as it passes the limit or the budget.
 */
export async function readWebBody(
  stream: ReadableStream<Uint8Array> | null,
  { limitBytes, reservation, declaredLength }: BodyReadLimits,
): Promise<BodyReadResult> {
  if (!stream) return { ok: true, body: Buffer.alloc(0) };
  const reader = stream.getReader();
  const chunks: Buffer[] = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.byteLength;
    // A declared length was reserved whole before reading; a chunked body is reserved as it comes.
    const reserved = declaredLength !== undefined || reservation.add(value.byteLength);
    const refusal = received > limitBytes ? TOO_LARGE : reserved ? undefined : BUSY;
    if (refusal) {
      await reader.cancel().catch(ignore);
      return refusal;
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }
  return { ok: true, body: Buffer.concat(chunks, received) };
}

const ignore = () => undefined;
