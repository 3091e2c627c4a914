// The server's http.Server: requests are born with Node's prototypes, then with the app's after adopt().
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createHttpServer, describeAddresses, listenOnHosts } from '../../src/server/httpServer';

type Seen = { requestProto: object | null; responseProto: object | null };

function get(
  port: number,
  path: string,
  host = '127.0.0.1',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('createHttpServer', () => {
  const { server, adopt } = createHttpServer();
  let port = 0;
  let before: Seen | undefined;
  const app = express();
  app.get('/seen', (req, res) => {
    res.json({ body: 'from the app', sameRequest: Object.getPrototypeOf(req) === app.request });
  });

  beforeAll(async () => {
    const early = (req: IncomingMessage, res: ServerResponse) => {
      before = {
        requestProto: Object.getPrototypeOf(req),
        responseProto: Object.getPrototypeOf(res),
      };
      res.end('starting');
    };
    server.on('request', early);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    await get(port, '/early');
    server.off('request', early);
    adopt(app);
    server.on('request', app);
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("gives requests Node's own prototypes until an app is adopted", () => {
    expect(before).toEqual({
      requestProto: http.IncomingMessage.prototype,
      responseProto: http.ServerResponse.prototype,
    });
  });

  it("gives requests the app's prototypes afterwards, and the app answers as usual", async () => {
    const seen: Seen[] = [];
    server.prependListener('request', (req, res) => {
      seen.push({
        requestProto: Object.getPrototypeOf(req),
        responseProto: Object.getPrototypeOf(res),
      });
    });
    const answer = await get(port, '/seen');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ body: 'from the app', sameRequest: true });
    expect(seen).toEqual([{ requestProto: app.request, responseProto: app.response }]);
    // Still real Node objects: the app's prototypes inherit from Node's.
    expect(app.request instanceof http.IncomingMessage).toBe(true);
    expect(app.response instanceof http.ServerResponse).toBe(true);
  });

  it('answers a 404 from the app for an unknown path', async () => {
    expect((await get(port, '/nowhere')).status).toBe(404);
  });
});

describe('listenOnHosts', () => {
  it('listens on every host on one port (PORT=0 too), one app behind all of them', async () => {
    const { server, adopt } = createHttpServer();
    const app = express();
    app.get('/where', (req, res) => {
      res.json({
        local: req.socket.localAddress,
        sameRequest: Object.getPrototypeOf(req) === app.request,
      });
    });
    adopt(app);
    server.on('request', app);
    // 192.0.2.123 (TEST-NET) is on no interface: a further host this machine lacks is skipped.
    const listening = await listenOnHosts(server, 0, ['127.0.0.1', '::1', '192.0.2.123']);
    expect(listening.addresses.map((a) => [a.address, a.port])).toEqual([
      ['127.0.0.1', listening.port],
      ['::1', listening.port],
    ]);
    expect(describeAddresses(listening.addresses)).toBe(
      `127.0.0.1:${listening.port}, [::1]:${listening.port}`,
    );
    for (const [host, local] of [
      ['127.0.0.1', '127.0.0.1'],
      ['::1', '::1'],
    ]) {
      const res = await get(listening.port, '/where', host);
      expect(JSON.parse(res.body)).toEqual({ local, sameRequest: true });
    }
    await listening.close();
    await expect(get(listening.port, '/where', '::1')).rejects.toThrow(/ECONNREFUSED/);
    await expect(get(listening.port, '/where')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('fails when the first host cannot be had', async () => {
    const { server } = createHttpServer();
    await expect(listenOnHosts(server, 0, ['192.0.2.123'])).rejects.toThrow(/EADDRNOTAVAIL/);
  });
});
