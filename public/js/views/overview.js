// The overview: headline numbers, deliveries of the last 24 h (accepted vs rejected by reason), segments (stale ones first), connections, user lookup.
import { api, apiPath, ApiError } from '../api.js';
import { badge, card, emptyState, h, show, table, tile } from '../dom.js';
import {
  ago,
  connectionName,
  duration,
  number,
  segmentHref,
  segmentName,
  time,
} from '../format.js';

export async function renderOverview(view, ctx) {
  const [overview, { connections }, { segments }] = await Promise.all([
    api('/api/overview'),
    api('/api/connections'),
    api('/api/segments'),
  ]);
  const d = overview.deliveries_24h;
  const total = d.accepted + d.rejected;
  const staleAfterHours = overview.segments.stale_after_hours;

  show(
    view,
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        null,
        h('h1', null, 'Overview'),
        h('div', { class: 'sub' }, 'Segments Heap keeps in sync with your product'),
      ),
    ),
    h(
      'div',
      { class: 'grid tiles' },
      tile(
        'Connections',
        number(overview.connections.active),
        `${number(overview.connections.disconnected)} disconnected`,
      ),
      tile(
        'Segments',
        number(overview.segments.count),
        overview.segments.stale > 0
          ? h(
              'span',
              { class: 'bad', 'data-stale-count': String(overview.segments.stale) },
              `${number(overview.segments.stale)} stale (no complete sync in ${staleAfterHours} h)`,
            )
          : 'across all connections',
      ),
      tile('Members', number(overview.segments.members), 'memberships in all segments'),
      tile(
        'Deliveries, last 24 h',
        h(
          'span',
          null,
          h('span', { class: 'ok' }, number(d.accepted)),
          h('span', { class: 'slash' }, '/'),
          h('span', { class: 'bad' }, number(d.rejected)),
        ),
        'accepted / rejected',
      ),
    ),
    h(
      'div',
      { class: 'grid two' },
      h(
        'div',
        null,
        segmentsCard(segments, connections, ctx, staleAfterHours),
        connectionsCard(connections, ctx),
      ),
      h('div', null, deliveriesCard(d, total), lookupCard(connections, segments)),
    ),
  );
}

/**
 * Stale segments first (never completed, then the longest ago), so a silently broken integration
 * is the first thing seen; the rest keep the API's order.
 */
function byStaleness(segments) {
  const rank = (s) => (!s.stale ? 2 : s.age_seconds === null ? 0 : 1);
  return [...segments].sort(
    (a, b) => rank(a) - rank(b) || (rank(a) === 1 ? b.age_seconds - a.age_seconds : 0),
  );
}

/** "Last complete sync" cell: how long ago, a Stale badge, and the pages an unfinished task lacks. */
function freshnessCell(s, staleAfterHours) {
  const task = s.incomplete_task;
  const missing =
    task &&
    h(
      'div',
      { class: 'missing-pages', 'data-missing-pages': task.missing_pages.join(',') },
      `Task ${task.sync_task_id}: ${task.pages_received} of ${task.total_pages} pages; missing ` +
        task.missing_pages.join(', ') +
        (task.missing_count > task.missing_pages.length
          ? ` and ${number(task.missing_count - task.missing_pages.length)} more`
          : ''),
    );
  // Not tracked (drained since its last sync): when its last page came is all there is to say.
  const tracked = s.stale || s.last_sync_completed_at !== null;
  const when = !tracked
    ? h('span', { class: 'dim', title: time(s.last_sync_at) }, `last page ${ago(s.last_sync_at)}`)
    : s.last_sync_completed_at === null
      ? 'never completed'
      : h('span', { title: time(s.last_sync_completed_at) }, `${duration(s.age_seconds)} ago`);
  return h(
    'div',
    { class: 'freshness' },
    s.stale
      ? h(
          'span',
          { title: `No sync task completed in the last ${staleAfterHours} hours` },
          badge('Stale', 'bad'),
          ' ',
        )
      : null,
    when,
    missing,
  );
}

function segmentsCard(segments, connections, ctx, staleAfterHours) {
  const body =
    segments.length === 0
      ? emptyState(
          connections.length === 0
            ? 'No segments yet. Connect a Heap environment, then turn on a segment sync in Heap.'
            : 'No segments yet. They appear with the first sync Heap sends.',
          ctx.hubUrl
            ? h(
                'a',
                { class: 'button ghost', href: ctx.hubUrl, target: '_blank', rel: 'noopener' },
                'Send a sync from the Developers Hub',
              )
            : null,
        )
      : table(
          [
            { label: 'Segment' },
            { label: 'Connection' },
            { label: 'Members', num: true },
            { label: 'Last complete sync' },
            { label: 'Last drain' },
          ],
          byStaleness(segments).map((s) => ({
            dataset: {
              segment: String(s.segment_id),
              connection: s.connection,
              stale: String(s.stale),
            },
            onclick: () => ctx.navigate(segmentHref(s.connection, s.segment_id)),
            cells: [
              h(
                'a',
                {
                  class: 'strong truncate',
                  title: segmentName(s),
                  href: segmentHref(s.connection, s.segment_id),
                },
                segmentName(s),
              ),
              connectionName(s.connection, connections),
              h(
                'span',
                { class: 'strong', 'data-members': String(s.member_count) },
                number(s.member_count),
              ),
              freshnessCell(s, staleAfterHours),
              h(
                'span',
                { class: 'dim', title: time(s.last_drain_at) },
                s.last_drain_at ? ago(s.last_drain_at) : 'never',
              ),
            ],
          })),
          { name: 'segments' },
        );
  return card('Segments', `${segments.length} in total`, body);
}

function connectionsCard(connections, ctx) {
  const body =
    connections.length === 0
      ? emptyState(
          'No Heap environment is connected yet.',
          h(
            'form',
            { method: 'post', action: '/api/authorize' },
            h('button', { class: 'button', type: 'submit' }, 'Connect Heap'),
          ),
        )
      : table(
          [
            { label: 'Environment' },
            { label: 'Authorized by' },
            { label: 'Connected' },
            { label: 'Status' },
            { label: '' },
          ],
          connections.map((c) => [
            h('span', { class: 'strong' }, c.env_id),
            c.authorized_by,
            h('span', { title: time(c.connected_at) }, ago(c.connected_at)),
            c.active ? badge('Active', 'ok') : badge('Disconnected', 'neutral'),
            c.active
              ? h(
                  'button',
                  {
                    class: 'button danger small',
                    type: 'button',
                    onclick: async (event) => {
                      if (
                        !window.confirm(
                          `Disconnect Heap environment ${c.env_id}? Its access token is deleted.`,
                        )
                      )
                        return;
                      event.currentTarget.disabled = true;
                      await api(apiPath`/api/connections/${c.connection}/disconnect`, {
                        method: 'POST',
                      });
                      ctx.refresh();
                    },
                  },
                  'Disconnect',
                )
              : '',
          ]),
          { name: 'connections' },
        );
  return card('Connections', 'Heap environments authorized with OAuth', body);
}

function deliveriesCard(d, total) {
  const share = (n) => (total === 0 ? 0 : (n / total) * 100);
  return card(
    'Deliveries, last 24 h',
    h('a', { href: '#/deliveries' }, 'View log →'),
    h(
      'div',
      {
        class: 'split',
        role: 'img',
        'aria-label': `${d.accepted} accepted, ${d.rejected} rejected`,
      },
      h('div', { class: 'ok', style: { width: `${share(d.accepted)}%` } }),
      h('div', { class: 'bad', style: { width: `${share(d.rejected)}%` } }),
    ),
    h(
      'div',
      { class: 'legend' },
      h(
        'span',
        null,
        h('i', { style: { background: 'var(--ok)' } }),
        `${number(d.accepted)} accepted`,
      ),
      h(
        'span',
        null,
        h('i', { style: { background: 'var(--bad)' } }),
        `${number(d.rejected)} rejected`,
      ),
      h('span', null, `${number(d.by_status.duplicate)} duplicates`),
    ),
    d.rejected_by_reason.length === 0
      ? h(
          'p',
          { class: 'dim' },
          total === 0 ? 'No deliveries in the last 24 hours.' : 'Nothing was rejected.',
        )
      : h(
          'ul',
          { class: 'reasons', 'data-list': 'rejected-reasons' },
          d.rejected_by_reason.map((r) =>
            h(
              'li',
              null,
              h(
                'a',
                { href: `#/deliveries?status=rejected&reason=${encodeURIComponent(r.reason)}` },
                r.reason,
              ),
              h('span', { class: 'badge bad' }, number(r.count)),
            ),
          ),
        ),
  );
}

function lookupCard(connections, segments) {
  const keys = [
    ...new Set([...connections.map((c) => c.connection), ...segments.map((s) => s.connection)]),
  ];
  const select = h(
    'select',
    { 'aria-label': 'Connection' },
    keys.map((k) => h('option', { value: k }, connectionName(k, connections))),
  );
  const input = h('input', { type: 'search', placeholder: 'User id', 'aria-label': 'User id' });
  const result = h('div', { class: 'lookup-result' });
  const form = h(
    'form',
    {
      class: 'lookup',
      onsubmit: async (event) => {
        event.preventDefault();
        const userId = input.value.trim();
        if (!userId || !select.value) return;
        try {
          const { segments: found } = await api(
            apiPath`/api/connections/${select.value}/users/${userId}/segments`,
          );
          show(
            result,
            found.length === 0
              ? h('p', { class: 'dim' }, `${userId} is in no segment of this connection.`)
              : h(
                  'div',
                  { class: 'chips' },
                  found.map((s) =>
                    h(
                      'a',
                      { class: 'chip', href: segmentHref(select.value, s.segment_id) },
                      segmentName(s),
                    ),
                  ),
                ),
          );
        } catch (e) {
          show(
            result,
            h('p', { class: 'error-text' }, e instanceof ApiError ? e.message : 'Lookup failed.'),
          );
        }
      },
    },
    select,
    input,
    h('button', { class: 'button ghost', type: 'submit', disabled: keys.length === 0 }, 'Find'),
  );
  return card('Which segments is a user in?', null, form, result);
}
