// Runs the route handler locally on node:http, converting to and from Fetch Request/Response (your platform does this in production).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type FetchHandler = (request: Request) => Promise<Response>;

/** The route's path, as Next.js would derive it from app/api/heap/webhook/route.ts. */
export const ROUTE_PATH = '/api/heap/webhook';
/** A local runner still bounds what it buffers; Heap's pages are far smaller. */
const MAX_BODY_BYTES = 5 * 1024 * 1024;

async function toRequest(req: IncomingMessage): Promise<Request | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      headers.append(name, one);
    }
  }
  return new Request(new URL(req.url ?? '/', 'http://localhost'), {
    method: req.method,
    headers,
    body: Buffer.concat(chunks),
  });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

function json(status: number, error: string, message: string): Response {
  return Response.json({ error, message }, { status });
}

/** A node:http server that routes POST /api/heap/webhook to `post`, as Next.js would. */
export function createRouteServer(post: FetchHandler): Server {
  return createServer((req, res) => {
    const answer = async (): Promise<Response> => {
      if (new URL(req.url ?? '/', 'http://localhost').pathname !== ROUTE_PATH) {
        return json(404, 'not_found', `only ${ROUTE_PATH} is served here`);
      }
      if (req.method !== 'POST') return json(405, 'method_not_allowed', 'use POST');
      const request = await toRequest(req);
      if (!request)
        return json(413, 'payload_too_large', `bodies are limited to ${MAX_BODY_BYTES} bytes`);
      return post(request);
    };
    answer()
      .then((response) => send(res, response))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'internal_error', message: 'the route handler failed' }));
      });
  });
}
