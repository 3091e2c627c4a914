// The server's node:http.Server, whose requests and responses are born with the app's prototypes.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

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

export function createHttpServer(): HttpServer {
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
  });
  return {
    server,
    adopt(app) {
      AppRequest.prototype = app.request;
      AppResponse.prototype = app.response;
    },
  };
}
