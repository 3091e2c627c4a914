// Fastify plugin: register(heapWebhooksPlugin, { heap, path? }) answers Heap webhooks on its own routes.
import type { IncomingMessage } from 'node:http';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { BodyReservation } from '../webhook/bodyBudget';
import { readNodeBody } from '../webhook/readBody';
import {
  createHeapWebhooks,
  isHeapWebhooks,
  type HeapWebhooks,
  type HeapWebhooksOptions,
  type ReceiveResult,
} from '../webhook/receive';
import { admitNodeRequest, pathOf } from './nodeRequest';

export type HeapWebhooksPluginOptions = {
  heap: HeapWebhooks | HeapWebhooksOptions;
  /** Route path(s) under the plugin's prefix (default '/webhook'). */
  path?: string | readonly string[];
};

/** Carries a refusal out of the content-type parser to the plugin's error handler. */
class BodyRefused extends Error {
  constructor(readonly result: ReceiveResult) {
    super(String((result.body as { error?: string }).error));
  }
}

function send(reply: FastifyReply, result: ReceiveResult): FastifyReply {
  return reply
    .code(result.status)
    .headers(result.headers ?? {})
    .send(result.body);
}

/**
 * Not wrapped in fastify-plugin on purpose: the context stays encapsulated, so the raw-bytes
 * content-type parser and the error handler apply to these routes only, not to the host app's.
 */
export const heapWebhooksPlugin: FastifyPluginCallback<HeapWebhooksPluginOptions> = (
  fastify,
  options,
  done,
) => {
  const heap = isHeapWebhooks(options.heap) ? options.heap : createHeapWebhooks(options.heap);
  const paths = options.path === undefined ? ['/webhook'] : [options.path].flat();
  const admitted = new WeakMap<
    IncomingMessage,
    { declaredLength: number | undefined; reservation: BodyReservation }
  >();

  // Before any byte is read: the core's header, encoding, length and budget checks.
  const admit = async (request: FastifyRequest, reply: FastifyReply) => {
    const admission = admitNodeRequest(heap, request.headers, pathOf(request.url));
    if (!admission.ok) return send(reply, admission.result);
    reply.raw.once('close', admission.reservation.release);
    admitted.set(request.raw, admission);
  };

  fastify.removeAllContentTypeParsers();
  // Any content type: the bytes are what was signed, whatever the sender labelled them.
  fastify.addContentTypeParser('*', (request, payload, parsed) => {
    const admission = admitted.get(request.raw);
    if (!admission) {
      parsed(new Error('heapWebhooksPlugin: body read before admission'), undefined);
      return;
    }
    readNodeBody(payload, {
      limitBytes: heap.bodyLimitBytes,
      reservation: admission.reservation,
      declaredLength: admission.declaredLength,
    }).then((read) => {
      if (!read) return; // the client went away
      if (read.ok) parsed(null, read.body);
      else parsed(new BodyRefused(heap.refuseBody(pathOf(request.url), read.status, read.reason)));
    }, parsed);
  });

  fastify.setErrorHandler((error, _request, reply) => {
    if (error instanceof BodyRefused) return send(reply, error.result);
    return reply.send(error);
  });

  for (const url of paths) {
    fastify.post(url, { onRequest: admit }, async (request, reply) => {
      const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const result = await heap.verifyAndReceive({
        heapHash: request.headers['heap-hash'],
        rawBody,
        path: pathOf(request.url),
      });
      return send(reply, result);
    });
  }
  done();
};

export default heapWebhooksPlugin;
export {
  createHeapWebhooks,
  type HeapWebhooks,
  type HeapWebhooksOptions,
} from '../webhook/receive';
