// The server's node:http.Server, whose requests and responses are born with the app's prototypes, and where it listens.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { HttpLimits } from '../config/index';

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

/** Where a server listens: one socket per host, all on one port. */
export type Listening = {
  port: number;
  addresses: AddressInfo[];
  /**
   * Stops accepting on every socket; resolves once every connection accepted on them has closed
   * (with server.closeIdleConnections/closeAllConnections to hurry them, as for one socket).
   */
  close(): Promise<void>;
};

/** Errors that mean "this machine has no such address" (say, no IPv6 at all), not "taken". */
const UNAVAILABLE = new Set(['EADDRNOTAVAIL', 'EAFNOSUPPORT']);
const PORT_ZERO_ATTEMPTS = 5;

/**
 * Listens on every host (every interface when `hosts` is empty). An http.Server listens on one
 * address only, so the first host is the server's own and each further host gets a plain TCP
 * listener that hands its connections to the same server: one request handler, one set of
 * timeouts, one list of connections for closeIdleConnections. The first host takes `port` (0: a
 * free one), the others the port it got. A further host this machine does not have (::1 without
 * IPv6) is skipped; the addresses say where the server really listens.
 */
export async function listenOnHosts(
  server: http.Server,
  port: number,
  hosts: readonly string[],
): Promise<Listening> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await listenOnce(server, port, hosts);
    } catch (error) {
      // With PORT=0 the port the first host got may be taken on another: pick a new one.
      const taken = (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!(port === 0 && taken && attempt < PORT_ZERO_ATTEMPTS)) throw error;
    }
  }
}

async function listenOnce(
  server: http.Server,
  port: number,
  hosts: readonly string[],
): Promise<Listening> {
  const [first, ...others] = hosts;
  await listen(server, port, first);
  const bound = (server.address() as AddressInfo).port;
  const extra: net.Server[] = [];
  try {
    for (const host of others) {
      const listener = net.createServer({ noDelay: true }, (socket) => {
        server.emit('connection', socket);
      });
      try {
        await listen(listener, bound, host);
        // Whatever goes wrong on it later is the server's problem, reported where its own is.
        listener.on('error', (error) => server.emit('error', error));
        extra.push(listener);
      } catch (error) {
        if (!UNAVAILABLE.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      }
    }
  } catch (error) {
    await Promise.all([server, ...extra].map(closeListener));
    throw error;
  }
  return {
    port: bound,
    addresses: [server, ...extra].map((listener) => listener.address() as AddressInfo),
    close: () => Promise.all([server, ...extra].map(closeListener)).then(() => undefined),
  };
}

function listen(listener: net.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    listener.once('error', failed);
    listener.listen(port, host, () => {
      listener.off('error', failed);
      resolve();
    });
  });
}

function closeListener(listener: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!listener.listening) {
      resolve();
      return;
    }
    listener.close(() => resolve());
  });
}

/** `127.0.0.1:3000, [::1]:3000`, or `every interface, port 3000`. */
export function describeAddresses(addresses: readonly AddressInfo[]): string {
  return addresses
    .map(({ address, family, port }) =>
      address === '::' || address === '0.0.0.0'
        ? `every interface${address === '0.0.0.0' ? ' (IPv4)' : ''}, port ${port}`
        : `${family === 'IPv6' ? `[${address}]` : address}:${port}`,
    )
    .join(', ');
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
