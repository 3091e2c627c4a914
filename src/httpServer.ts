// The server's node:http.Server, whose requests and responses are born with the app's prototypes.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpLimits } from './config';

/** What an Express app gives every request and response as its prototype. */
export type RequestPrototypes = { request: object; response: object };

export type HttpServer = {
  server: http.Server;
  /**
   * From now on, requests and responses are constructed with `app.request` and `app.response` as
   * their prototypes. Express sets exactly those on every request it handles; an object that
   * already has them makes that `Object.setPrototypeOf` a no-op. Changing a live object's
   * prototype costs V8 a new hidden class per request and keeps both objects alive through the
   * next minor GCs: on a 2-core machine, 5 ms scavenges every 200 ms at 1,000 requests/s, which
   * was most of the admin lookup's p99 (see bench/RESULTS.md).
   */
  adopt(app: RequestPrototypes): void;
};

const nodeRequest = http.IncomingMessage as unknown as (
  this: IncomingMessage,
  socket: Socket,
) => void;
const nodeResponse = http.ServerResponse as unknown as (
  this: ServerResponse,
  req: IncomingMessage,
  options?: object,
) => void;

/**
 * How often Node looks for requests past their headers or request timeout. Node's default (30 s)
 * would let a slow client keep a socket up to 30 s beyond either limit.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;

/**
 * Without `limits`, Node's defaults apply (a test server); the real server always passes the
 * config's, so a client trickling headers or a body is cut off (408) after its timeout.
 */
export function createHttpServer(limits?: HttpLimits): HttpServer {
  // Node constructs these with `new` once per request (options.IncomingMessage/ServerResponse),
  // so each object gets the current `.prototype` below: Node's until adopt(), the app's after.
  // Node's own constructors are plain functions, run on that object with .call(). (Reflect.construct
  // would also work, but V8 then builds the objects in a way that brought the long scavenges back.)
  function AppRequest(this: IncomingMessage, socket: Socket): void {
    nodeRequest.call(this, socket);
  }
  function AppResponse(this: ServerResponse, req: IncomingMessage, options?: object): void {
    nodeResponse.call(this, req, options);
  }
  AppRequest.prototype = http.IncomingMessage.prototype as object;
  AppResponse.prototype = http.ServerResponse.prototype as object;
  const server = http.createServer({
    IncomingMessage: AppRequest as unknown as typeof IncomingMessage,
    ServerResponse: AppResponse as unknown as typeof ServerResponse,
    ...(limits && {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    }),
  });
  if (limits && limits.maxRequestsPerSocket > 0) {
    server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
    closeAfterLastRequest(server, limits.maxRequestsPerSocket);
  }
  return {
    server,
    adopt(app) {
      AppRequest.prototype = app.request;
      AppResponse.prototype = app.response;
    },
  };
}

/**
 * Node answers the last allowed request with `Connection: close` but leaves the socket open (a
 * further request gets a bare 503) until the keep-alive timeout: close it once that answer is out.
 */
function closeAfterLastRequest(server: http.Server, maxRequestsPerSocket: number): void {
  const served = new WeakMap<Socket, number>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const { socket } = req;
    const count = (served.get(socket) ?? 0) + 1;
    served.set(socket, count);
    if (count >= maxRequestsPerSocket) res.once('finish', () => socket.destroySoon());
  });
}
