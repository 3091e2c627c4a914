// Attack: guessing the admin token while spoofing X-Forwarded-For, or from many addresses, against the built server.
import { spawnSync } from 'node:child_process';
import { serverEntry, startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

const ADMIN_TOKEN = 'proxy-test-admin-token-0123456789';
/** The address the load balancer saw and appended: the right-most X-Forwarded-For entry. */
const ATTACKER = '203.0.113.7';

let running: ServerProcess | undefined;
afterEach(() => {
  running?.child.kill('SIGKILL');
  running = undefined;
});

let spoofCounter = 0;
/** A made-up left part, different on every request, as an attacker would send it. */
function spoofedLeft(): string {
  spoofCounter += 1;
  return `10.${(spoofCounter >> 16) & 255}.${(spoofCounter >> 8) & 255}.${spoofCounter & 255}`;
}

async function signIn(server: ServerProcess, token: string, forwardedFor?: string) {
  const res = await fetch(`${server.url}/api/session`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor }),
    },
    body: JSON.stringify({ token }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after') };
}

function start(env: Record<string, string>) {
  return startServer({ DATA_DIR: tempDir(), ADMIN_TOKEN, TRUST_PROXY: '1', ...env });
}

it('throttles guesses as one client when only the left part of X-Forwarded-For rotates', async () => {
  running = await start({});
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    statuses.push((await signIn(running, `wrong-${i}`, `${spoofedLeft()}, ${ATTACKER}`)).status);
  }
  // Six guesses are checked (five free failures, the sixth starts a lockout); from then on the
  // address is locked out whatever the left part says. Were the left part believed, all 30
  // would be checked. The lockout doubles from 1 s, so a very slow run may check one or two more.
  expect(statuses.slice(0, 6)).toEqual(Array(6).fill(401));
  expect(statuses.filter((status) => status === 401).length).toBeLessThanOrEqual(8);
  expect(statuses.filter((status) => status === 429).length).toBeGreaterThanOrEqual(22);
  expect(statuses.at(-1)).toBe(429);
  const locked = await signIn(running, ADMIN_TOKEN, `${spoofedLeft()}, ${ATTACKER}`);
  expect(locked.status).toBe(429);
  expect(Number(locked.retryAfter)).toBeGreaterThan(0);
  // Another client behind the same proxy is not locked out by the attacker.
  expect((await signIn(running, ADMIN_TOKEN, `${spoofedLeft()}, 198.51.100.20`)).status).toBe(200);
});

it('slows guesses from many distinct addresses with the global failure budget', async () => {
  running = await start({ ADMIN_LOGIN_FAILURES_PER_MINUTE: '10' });
  // The admin signs in once from the office before the attack.
  expect((await signIn(running, ADMIN_TOKEN, '198.51.100.20')).status).toBe(200);
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 1; i <= 20; i++) {
    const result = await signIn(running, `wrong-${i}`, `${spoofedLeft()}, 192.0.2.${i}`);
    statuses.push(result.status);
    if (result.status === 429) retryAfter = result.retryAfter;
  }
  // Each address guesses once (well under its own five free failures): only the global budget
  // can stop them, and it does after ten.
  expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
  expect(statuses.slice(10)).toEqual(Array(10).fill(429));
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  // Even the right token waits when it comes from an address never seen signing in...
  expect((await signIn(running, ADMIN_TOKEN, '192.0.2.200')).status).toBe(429);
  // ...but the admin's known address still gets in during the attack.
  expect((await signIn(running, ADMIN_TOKEN, '198.51.100.20')).status).toBe(200);
});

it('refuses TRUST_PROXY=true in production, and says to set the hop count', () => {
  const result = spawnSync(process.execPath, [serverEntry], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      DATA_DIR: tempDir(),
      WEBHOOK_SECRET: 'secret',
      ADMIN_TOKEN,
      TRUST_PROXY: 'true',
    },
    encoding: 'utf8',
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(/TRUST_PROXY=true trusts every X-Forwarded-For entry/);
  expect(result.stderr).toMatch(/TRUST_PROXY=1 behind one load balancer/);
});
