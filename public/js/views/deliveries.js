// The deliveries log (every signed webhook request, refused ones too, filtered) and the counted unsigned refusals.
import { api, query } from '../api.js';
import { badge, card, emptyState, h, show, table } from '../dom.js';
import { connectionName, number, segmentHref, time } from '../format.js';

const WINDOWS = [
  ['', 'Any time'],
  ['1h', 'Last hour'],
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
];
const WINDOW_MS = {
  '1h': 3600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};
const STATUS_KIND = { applied: 'ok', duplicate: 'neutral', ignored: 'warn', rejected: 'bad' };
const PAGE = 50;

/** Filters live in the URL (#/deliveries?status=…) so a filtered view can be shared or reloaded. */
export async function renderDeliveries(view, ctx, params) {
  const { connections } = await api('/api/connections');
  const filters = {
    status: params.get('status') ?? '',
    reason: params.get('reason') ?? '',
    connection: params.get('connection') ?? '',
    window: params.get('window') ?? '',
  };

  const status = h(
    'select',
    { name: 'status', 'aria-label': 'Status' },
    [
      ['', 'Any status'],
      ['applied', 'Applied'],
      ['duplicate', 'Duplicate'],
      ['ignored', 'Ignored'],
      ['rejected', 'Rejected'],
    ].map(([v, l]) => h('option', { value: v, selected: v === filters.status }, l)),
  );
  const reason = h('input', {
    name: 'reason',
    type: 'search',
    placeholder: 'e.g. invalid_signature',
    value: filters.reason,
  });
  const connection = h(
    'select',
    { name: 'connection', 'aria-label': 'Connection' },
    h('option', { value: '' }, 'Any connection'),
    h('option', { value: 'own', selected: filters.connection === 'own' }, 'Own environment'),
    connections.map((c) =>
      h(
        'option',
        { value: c.connection, selected: c.connection === filters.connection },
        `Env ${c.env_id}`,
      ),
    ),
  );
  const windowSelect = h(
    'select',
    { name: 'window', 'aria-label': 'Time window' },
    WINDOWS.map(([v, l]) => h('option', { value: v, selected: v === filters.window }, l)),
  );
  const form = h(
    'form',
    {
      class: 'toolbar',
      id: 'delivery-filters',
      onsubmit: (event) => {
        event.preventDefault();
        const next = query({
          status: status.value,
          reason: reason.value.trim(),
          connection: connection.value,
          window: windowSelect.value,
        });
        ctx.navigate(`#/deliveries${next}`);
      },
    },
    h('label', { class: 'field' }, 'Status', status),
    h('label', { class: 'field grow' }, 'Reason', reason),
    h('label', { class: 'field' }, 'Connection', connection),
    h('label', { class: 'field' }, 'Received', windowSelect),
    h('button', { class: 'button', type: 'submit' }, 'Apply'),
  );

  const rows = [];
  const body = h('div');
  const more = h(
    'button',
    { class: 'button ghost small', type: 'button', id: 'deliveries-more' },
    'Load older',
  );
  const apiFilters = {
    status: filters.status,
    reason: filters.reason,
    connection: filters.connection,
    since: WINDOW_MS[filters.window] ? Date.now() - WINDOW_MS[filters.window] : undefined,
    limit: PAGE,
  };
  let cursor = null;

  async function load() {
    const page = await api(`/api/deliveries${query({ ...apiFilters, cursor })}`);
    rows.push(...page.deliveries);
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    show(
      body,
      rows.length === 0
        ? emptyState('No delivery matches these filters.')
        : table(
            [
              { label: 'Received' },
              { label: 'Status' },
              { label: 'Reason' },
              { label: 'Action' },
              { label: 'Connection' },
              { label: 'Segment' },
              { label: 'Page' },
              { label: 'Added', num: true },
              { label: 'Removed', num: true },
            ],
            rows.map((d) => ({
              dataset: { status: d.status },
              cells: [
                time(d.received_at),
                h(
                  'span',
                  null,
                  badge(d.status, STATUS_KIND[d.status] ?? 'neutral'),
                  h('span', { class: 'dim' }, ` ${d.http_status}`),
                ),
                d.reason
                  ? h('span', { class: 'mono' }, d.reason)
                  : h('span', { class: 'dim' }, '—'),
                d.action_type
                  ? d.action_type.replace(/^segment\.users\./, '')
                  : h('span', { class: 'dim' }, '—'),
                d.connection === null
                  ? h('span', { class: 'dim' }, '—')
                  : connectionName(d.connection, connections),
                d.segment_id === null
                  ? h('span', { class: 'dim' }, '—')
                  : d.connection === null
                    ? String(d.segment_id)
                    : h(
                        'a',
                        { href: segmentHref(d.connection, d.segment_id) },
                        String(d.segment_id),
                      ),
                d.page_number === null ? h('span', { class: 'dim' }, '—') : `page ${d.page_number}`,
                h(
                  'span',
                  null,
                  h('span', { class: 'added' }, `+${number(d.added)}`),
                  ' ',
                  h('span', { class: 'removed' }, `−${number(d.removed)}`),
                ),
              ],
            })),
            { name: 'deliveries' },
          ),
    );
  }
  more.addEventListener('click', () => void load());

  // Requests refused before their signature verified are counted per minute, not logged one by
  // one (anyone can send them, at any rate).
  const refusalsBody = h('div');
  async function loadRefusals() {
    const { minutes } = await api(`/api/refusals${query({ limit: 60 })}`);
    show(
      refusalsBody,
      minutes.length === 0
        ? emptyState('No request was refused before its signature check.')
        : table(
            [{ label: 'Minute' }, { label: 'Reasons' }, { label: 'Refused', num: true }],
            minutes.map((m) => ({
              cells: [
                time(m.minute),
                h(
                  'span',
                  null,
                  m.by_reason.map((r) =>
                    h(
                      'span',
                      { class: 'mono' },
                      `${r.reason} (${r.http_status}): ${number(r.count)} `,
                    ),
                  ),
                ),
                number(m.total),
              ],
            })),
            { name: 'refusals' },
          ),
    );
  }

  show(
    view,
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        null,
        h('h1', null, 'Deliveries'),
        h(
          'div',
          { class: 'sub' },
          'Every signed request to the webhook, newest first; unsigned ones are counted below',
        ),
      ),
    ),
    card('Filters', null, form),
    card('Log', null, body, h('div', { class: 'pager' }, h('span'), more)),
    card(
      'Refused before the signature check',
      'Missing, malformed or wrong Heap-Hash, too large, busy: counted per minute (last 60 minutes with any)',
      refusalsBody,
    ),
  );
  await Promise.all([load(), loadRefusals()]);
}
