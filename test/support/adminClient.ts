// A bearer-authenticated admin API client for tests; every JSON answer is checked against admin_api.yaml.
import request from 'supertest';
import type { TestApp } from './testApp';
import { expectMatchesSpec } from './adminSpec';

/** A response body already checked against its schema, so tests may read it freely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CheckedBody = any;

/** GETs `url`, asserts the status, and checks the body against the documented `specPath`. */
export async function adminGet(
  t: TestApp,
  url: string,
  specPath: string,
  status = 200,
): Promise<CheckedBody> {
  const res = await request(t.app).get(url).set('Authorization', `Bearer ${t.config.admin.token}`);
  if (res.status !== status) {
    throw new Error(
      `GET ${url}: expected ${status}, got ${res.status} ${JSON.stringify(res.body)}`,
    );
  }
  expectMatchesSpec('get', specPath, status, res.body);
  return res.body;
}

export function adminPost(t: TestApp, url: string) {
  return request(t.app).post(url).set('Authorization', `Bearer ${t.config.admin.token}`);
}
