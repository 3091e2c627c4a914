// Heap-shaped webhook bodies and a signed POST over real HTTP, for the tests of the examples.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signHeapHash } from 'heap-partner-api';

export function syncPage(page: {
  idToken?: string;
  segmentId: number;
  taskId: string;
  pageNumber?: number;
  totalPages?: number;
  add?: string[];
  remove?: string[];
}): string {
  return JSON.stringify({
    ...(page.idToken === undefined ? {} : { id_token: page.idToken }),
    action_type: 'segment.users.sync',
    data: {
      segment: { id: page.segmentId, name: 'Example segment' },
      sync_info: {
        page_number: page.pageNumber ?? 1,
        total_pages: page.totalPages ?? 1,
        sync_task_id: page.taskId,
      },
      add: (page.add ?? []).map((id) => ({ id })),
      remove: (page.remove ?? []).map((id) => ({ id })),
    },
  });
}

export function drain(page: { idToken?: string; segmentId: number }): string {
  return JSON.stringify({
    ...(page.idToken === undefined ? {} : { id_token: page.idToken }),
    action_type: 'segment.users.drain',
    data: { segment: { id: page.segmentId, name: 'Example segment' } },
  });
}

/** POSTs `body` signed with `secret` (Heap's Heap-Hash) and returns the status and parsed JSON. */
export async function postSigned(
  url: string,
  body: string,
  secret: string,
): Promise<{ status: number; body: { [key: string]: unknown } }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'heap-hash': signHeapHash(secret, body) },
    body,
  });
  return { status: response.status, body: (await response.json()) as { [key: string]: unknown } };
}

/** Listens on a free loopback port and returns the base URL. */
export async function listenLocally(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
