// Raw HTTP clients for attack tests: node:http with any Host header, and a TCP client that sends exactly the bytes given.
import http from 'node:http';
import net from 'node:net';

export type HttpResponse = { status: number; headers: http.IncomingHttpHeaders; body: string };

export function rawRequest(options: {
  /** Address to connect to (default 127.0.0.1). */
  address?: string;
  port: number;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: options.address ?? '127.0.0.1',
        port: options.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: {
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** GETs an admin API path with the bearer token. */
export async function adminGet(url: string, token: string, path: string): Promise<unknown> {
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

export type RawResponse = {
  status: number;
  headers: Record<string, string>;
  body: string;
};

export type RawConnection = {
  socket: net.Socket;
  /** Writes bytes; resolves once they are handed to the kernel (false if the socket is gone). */
  write(data: string | Buffer): Promise<boolean>;
  /** The first response on the connection (rejects if the connection closes without one). */
  response: Promise<RawResponse>;
  /** The response after the ones already taken (the first call gives the first response). */
  nextResponse(): Promise<RawResponse>;
  /** Resolves when the server (or we) closed the connection, with the time it happened. */
  closed: Promise<number>;
  close(): void;
};

/** Connects to 127.0.0.1:port; writes nothing until told to. */
export function rawConnect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    const parsed: RawResponse[] = [];
    type Waiter = { resolve: (r: RawResponse) => void; reject: (e: Error) => void };
    const waiting: Waiter[][] = [];
    let taken = 0;
    let ended = false;
    const responseAt = (index: number): Promise<RawResponse> =>
      new Promise((res, rej) => {
        if (parsed[index]) res(parsed[index]);
        else if (ended) rej(new Error('connection closed without a response'));
        else (waiting[index] ??= []).push({ resolve: res, reject: rej });
      });
    const parse = () => {
      for (;;) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [statusLine, ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 0);
        if (received.length < end + 4 + length) return;
        const response = {
          status: Number(statusLine.split(' ')[1]),
          headers,
          body: received.subarray(end + 4, end + 4 + length).toString('utf8'),
        };
        received = received.subarray(end + 4 + length);
        for (const waiter of waiting[parsed.length] ?? []) waiter.resolve(response);
        parsed.push(response);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      parse();
    });
    // A reset after the response was read is how a server drops a connection with unread bytes.
    socket.on('error', () => undefined);
    const closed = new Promise<number>((res) =>
      socket.on('close', () => {
        ended = true;
        for (const waiter of waiting.slice(parsed.length).flat()) {
          waiter.reject(new Error('connection closed without a response'));
        }
        res(Date.now());
      }),
    );
    const response = responseAt(0);
    // Tests that only watch `closed` must not fail on an unobserved rejection.
    response.catch(() => undefined);
    socket.once('connect', () =>
      resolve({
        socket,
        write: (data) =>
          new Promise((res) => {
            if (socket.destroyed || !socket.writable) {
              res(false);
              return;
            }
            socket.write(data, (error) => res(!error));
          }),
        response,
        nextResponse: () => responseAt(taken++),
        closed,
        close: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
