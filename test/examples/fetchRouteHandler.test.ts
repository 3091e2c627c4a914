// examples/fetch-route-handler: a Next.js-style POST(request) route handler, served by the example's node:http runner.
import type { Server } from 'node:http';
import { drain, listenLocally, postSigned, syncPage } from '../support/heapDelivery';

const SECRET = 'route-handler-secret';

describe('the Fetch API route handler example', () => {
  let server: Server;
  let url: string;
  let audiences: typeof import('../../examples/fetch-route-handler/audiences').audiences;

  beforeAll(async () => {
    // route.ts reads its secret from the environment when it loads, as a deployed route would.
    process.env.HEAP_WEBHOOK_SECRET = SECRET;
    const { POST } = await import('../../examples/fetch-route-handler/route');
    const { createRouteServer, ROUTE_PATH } =
      await import('../../examples/fetch-route-handler/serve');
    ({ audiences } = await import('../../examples/fetch-route-handler/audiences'));
    server = createRouteServer(POST);
    url = (await listenLocally(server)) + ROUTE_PATH;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('applies a signed sync (own environment: no id_token)', async () => {
    const body = syncPage({ segmentId: 11, taskId: 'r1', add: ['u1', 'u2', 'u3'], remove: ['u3'] });
    const answer = await postSigned(url, body, SECRET);
    expect(answer.status).toBe(200);
    expect(audiences.list(undefined, 11)).toEqual(['u1', 'u2']);
  });

  it('applies a retried page once', async () => {
    const page = (pageNumber: number, change: { add?: string[]; remove?: string[] }) =>
      syncPage({
        idToken: 'env-b',
        segmentId: 12,
        taskId: 'r2',
        pageNumber,
        totalPages: 2,
        ...change,
      });
    await postSigned(url, page(1, { add: ['x'] }), SECRET);
    await postSigned(url, page(2, { remove: ['x'] }), SECRET);
    expect((await postSigned(url, page(1, { add: ['x'] }), SECRET)).status).toBe(200);
    expect(audiences.list('env-b', 12)).toEqual([]);
  });

  it('refuses a forged sync with 403 and changes nothing', async () => {
    const body = syncPage({ segmentId: 11, taskId: 'r3', add: ['mallory'] });
    const answer = await postSigned(url, body, 'guessed-secret');
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'invalid_signature' });
    expect(audiences.list(undefined, 11)).toEqual(['u1', 'u2']);
  });

  it('empties a segment on a drain', async () => {
    expect((await postSigned(url, drain({ segmentId: 11 }), SECRET)).status).toBe(200);
    expect(audiences.list(undefined, 11)).toEqual([]);
  });

  it('answers JSON 404 off the route and 405 for another method (the runner, not the handler)', async () => {
    expect((await fetch(url.replace('/webhook', '/other'), { method: 'POST' })).status).toBe(404);
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(await get.json()).toMatchObject({ error: 'method_not_allowed' });
  });
});
