// Attack: reach a development server (and its sandbox) from another machine on the network.
import net from 'node:net';
import os from 'node:os';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { rawRequest } from '../support/rawHttp';
import { tempDir } from '../support/testApp';

/** This machine's addresses other machines could use to reach it (none on a loopback-only box). */
function networkAddresses(): string[] {
  return (
    Object.values(os.networkInterfaces())
      .flat()
      .filter((info): info is os.NetworkInterfaceInfo => info !== undefined && !info.internal)
      // Link-local IPv6 needs a scope id to connect to; the others are enough.
      .filter((info) => !(info.family === 'IPv6' && info.address.startsWith('fe80:')))
      .map((info) => info.address)
  );
}

/** 'connected' or the error code of a TCP connection attempt. */
function tryConnect(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

function listeningLog(server: ServerProcess): { port: number; addresses: string[] } {
  const line = server
    .stdout()
    .split('\n')
    .find((l) => l.includes('"msg":"listening"'));
  return JSON.parse(line ?? '{}') as { port: number; addresses: string[] };
}

const running: ServerProcess[] = [];
afterEach(() => {
  for (const server of running.splice(0)) server.child.kill('SIGKILL');
});

async function start(env: Record<string, string>): Promise<ServerProcess> {
  const server = await startServer({ DATA_DIR: tempDir('hpa-net-'), ...env });
  running.push(server);
  return server;
}

describe('development, nothing set (the sandbox is on)', () => {
  it('listens on 127.0.0.1 and ::1 on one port, and says so in the banner', async () => {
    const server = await start({});
    expect(listeningLog(server)).toMatchObject({
      port: server.port,
      addresses: ['127.0.0.1', '::1'],
    });
    expect(server.stderr()).toContain(
      `Listening on:   127.0.0.1:${server.port}, [::1]:${server.port}   (loopback only`,
    );
    expect(server.stderr()).toContain(
      'Sandbox:        on (no WEBHOOK_SECRET, no CLIENT_ID, loopback only)',
    );
    // Both loopback families answer, so `localhost` works whichever one a client tries first.
    for (const address of ['127.0.0.1', '::1']) {
      const res = await rawRequest({ address, port: server.port, path: '/healthcheck' });
      expect(res.status).toBe(200);
    }
  });

  it("refuses connections on this machine's network addresses", async () => {
    const addresses = networkAddresses();
    const server = await start({});
    // On a machine without a network interface the listening addresses above are the proof.
    for (const address of addresses) {
      expect([address, await tryConnect(address, server.port)]).toEqual([address, 'ECONNREFUSED']);
    }
    expect(listeningLog(server).addresses.every((a) => a === '127.0.0.1' || a === '::1')).toBe(
      true,
    );
  });

  it('reaches beyond loopback only when HOST says so (HOST=0.0.0.0), and warns', async () => {
    const addresses = networkAddresses().filter((address) => net.isIPv4(address));
    const server = await start({ HOST: '0.0.0.0' });
    expect(listeningLog(server).addresses).toEqual(['0.0.0.0']);
    expect(server.stderr()).toContain('every interface (IPv4)');
    expect(server.stderr()).toMatch(
      /Warning: +The sandbox .* answers beyond loopback \(HOST=0\.0\.0\.0\)/,
    );
    for (const address of addresses) {
      expect([address, await tryConnect(address, server.port)]).toEqual([address, 'connected']);
    }
  });
});

it('keeps every interface as the production default, with HOST to restrict it', async () => {
  const production = {
    NODE_ENV: 'production',
    WEBHOOK_SECRET: 'production-webhook-secret',
    ADMIN_TOKEN: 'production-admin-token-xyz',
  };
  const open = await start(production);
  expect(listeningLog(open).addresses).toEqual(['::']);
  expect(open.stderr()).toContain('Sandbox:        off because NODE_ENV=production');
  const restricted = await start({ ...production, HOST: '127.0.0.1' });
  expect(listeningLog(restricted).addresses).toEqual(['127.0.0.1']);
  for (const address of networkAddresses()) {
    expect(await tryConnect(address, restricted.port)).toBe('ECONNREFUSED');
  }
});
