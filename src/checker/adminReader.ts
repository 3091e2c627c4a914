// Reads a segment's stored members through our admin API (admin_api.yaml), for the checker's state-aware mode.
import type { AdminTarget } from './types';

/** Members read at most per segment: the state checks use a few hundred; more means a bug. */
const MAX_MEMBERS = 20_000;
const PAGE_LIMIT = 1000;
/** Pages read at most: a cursor that never ends must not keep the checker busy forever. */
const MAX_PAGES = MAX_MEMBERS / PAGE_LIMIT + 1;
const MAX_RESPONSE_BYTES = 1024 * 1024;

export type MembersRead = { ok: true; members: string[] } | { ok: false; error: string };

/**
 * The admin API's name for a tenant: the id_token, `own` without one, and a `~` in front of an
 * id_token that is literally `own` or starts with `~`.
 */
export function connectionKey(idToken: string | undefined): string {
  if (idToken === undefined || idToken === '') return 'own';
  return idToken === 'own' || idToken.startsWith('~') ? `~${idToken}` : idToken;
}

export class AdminReader {
  constructor(
    private readonly target: AdminTarget,
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {}

  /** The segment's members, sorted; a segment the receiver never stored has none. */
  async members(idToken: string | undefined, segmentId: number | string): Promise<MembersRead> {
    const base =
      `${this.target.url.replace(/\/+$/, '')}/api/connections/` +
      `${encodeURIComponent(connectionKey(idToken))}/segments/${encodeURIComponent(String(segmentId))}/members`;
    const members: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      pages += 1;
      if (pages > MAX_PAGES) return { ok: false, error: `more than ${MAX_PAGES} pages of members` };
      const url = `${base}?limit=${PAGE_LIMIT}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await this.get(url);
      if (!page.ok) return page;
      if (page.status === 404 && members.length === 0) return { ok: true, members: [] };
      if (page.status === 401 || page.status === 403) {
        return {
          ok: false,
          error: `the admin API refused the token (${page.status}): check --admin-token`,
        };
      }
      if (page.status !== 200) {
        return { ok: false, error: `GET ${url} answered ${page.status}` };
      }
      const body = page.body as { members?: unknown; next_cursor?: unknown };
      if (!Array.isArray(body.members)) {
        return { ok: false, error: `GET ${url} did not answer {"members": […]}` };
      }
      members.push(...body.members.map(String));
      cursor = typeof body.next_cursor === 'string' ? body.next_cursor : null;
      if (members.length > MAX_MEMBERS) {
        return { ok: false, error: `more than ${MAX_MEMBERS} members stored` };
      }
    } while (cursor !== null);
    return { ok: true, members: members.sort() };
  }

  private async get(
    url: string,
  ): Promise<{ ok: true; status: number; body: unknown } | { ok: false; error: string }> {
    const { default: axios } = await import('axios');
    try {
      const response = await axios.get<unknown>(url, {
        headers: { Authorization: `Bearer ${this.target.token}`, Accept: 'application/json' },
        timeout: this.timeoutMs,
        signal: this.signal,
        maxContentLength: MAX_RESPONSE_BYTES,
        maxRedirects: 0,
        validateStatus: () => true,
      });
      return { ok: true, status: response.status, body: response.data };
    } catch (error) {
      const message = axios.isAxiosError(error) ? (error.code ?? error.message) : String(error);
      return { ok: false, error: `admin API unreachable at ${this.target.url}: ${message}` };
    }
  }
}
