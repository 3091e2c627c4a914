// examples/express-existing-app: Heap webhooks inside an existing Express app, next to its own JSON routes.
import { createServer, type Server } from 'node:http';
import { createShopApp } from '../../examples/express-existing-app/app';
import { drain, listenLocally, postSigned, syncPage } from '../support/heapDelivery';

const SECRET = 'example-webhook-secret';

describe('the Express example app', () => {
  const lines: string[] = [];
  let server: Server;
  let base: string;

  beforeAll(async () => {
    const { app } = createShopApp({ webhookSecrets: [SECRET], log: (line) => lines.push(line) });
    server = createServer(app);
    base = await listenLocally(server);
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const membersOf = async (segmentId: number, environment: string): Promise<unknown> => {
    const response = await fetch(`${base}/api/audiences/${segmentId}?environment=${environment}`);
    return ((await response.json()) as { members: unknown }).members;
  };

  it('applies a signed sync to its own data', async () => {
    const body = syncPage({ idToken: 'env-a', segmentId: 7, taskId: 't1', add: ['ada', 'grace'] });
    const answer = await postSigned(`${base}/heap/webhook`, body, SECRET);
    expect(answer.status).toBe(200);
    expect(await membersOf(7, 'env-a')).toEqual(['ada', 'grace']);
  });

  it('applies a page only once: a retried page 1 after page 2 does not bring a removed user back', async () => {
    const page = (pageNumber: number, change: { add?: string[]; remove?: string[] }) =>
      syncPage({
        idToken: 'env-a',
        segmentId: 8,
        taskId: 't2',
        pageNumber,
        totalPages: 2,
        ...change,
      });
    expect(
      (await postSigned(`${base}/heap/webhook`, page(1, { add: ['alan'] }), SECRET)).status,
    ).toBe(200);
    expect(
      (await postSigned(`${base}/heap/webhook`, page(2, { remove: ['alan'] }), SECRET)).status,
    ).toBe(200);
    // Heap did not see our first 200 and sends page 1 again, freshly signed.
    expect(
      (await postSigned(`${base}/heap/webhook`, page(1, { add: ['alan'] }), SECRET)).status,
    ).toBe(200);
    expect(await membersOf(8, 'env-a')).toEqual([]);
    expect(lines).toContainEqual(expect.stringContaining('seen before, skipped'));
  });

  it('refuses a forged sync with 403 and changes nothing', async () => {
    const body = syncPage({
      idToken: 'env-a',
      segmentId: 7,
      taskId: 't3',
      remove: ['ada'],
      add: ['mallory'],
    });
    const answer = await postSigned(`${base}/heap/webhook`, body, 'not-the-secret');
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'invalid_signature' });
    expect(await membersOf(7, 'env-a')).toEqual(['ada', 'grace']);
  });

  it('empties a segment on a drain', async () => {
    const answer = await postSigned(
      `${base}/heap/webhook`,
      drain({ idToken: 'env-a', segmentId: 7 }),
      SECRET,
    );
    expect(answer.status).toBe(200);
    expect(await membersOf(7, 'env-a')).toEqual([]);
  });

  it("keeps the app's own express.json routes working", async () => {
    const response = await fetch(`${base}/api/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello' }),
    });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ note: 'hello' });
  });
});
