// A raw TCP HTTP/1.1 client for attack tests: sends exactly the bytes given, when given, and reads one response.
import net from 'node:net';

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
  /** Resolves when the server (or we) closed the connection, with the time it happened. */
  closed: Promise<number>;
  close(): void;
};

/** Connects to 127.0.0.1:port; writes nothing until told to. */
export function rawConnect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let settle: { resolve: (r: RawResponse) => void; reject: (e: Error) => void };
    const response = new Promise<RawResponse>(
      (res, rej) => (settle = { resolve: res, reject: rej }),
    );
    // Tests that only watch `closed` must not fail on an unobserved rejection.
    response.catch(() => undefined);
    let answered = false;
    const tryParse = () => {
      if (answered) return;
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
      answered = true;
      settle.resolve({
        status: Number(statusLine.split(' ')[1]),
        headers,
        body: received.subarray(end + 4, end + 4 + length).toString('utf8'),
      });
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      tryParse();
    });
    // A reset after the response was read is how a server drops a connection with unread bytes.
    socket.on('error', () => undefined);
    const closed = new Promise<number>((res) =>
      socket.on('close', () => {
        if (!answered) settle.reject(new Error('connection closed without a response'));
        res(Date.now());
      }),
    );
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
