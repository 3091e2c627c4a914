// The admin audit log: sign-ins and their failures, sign-outs, disconnects, key rotations, retention runs; newest first, an older page at a time.
import { api, query } from '../api.js';
import { badge, card, emptyState, h, show, table } from '../dom.js';
import { number, time } from '../format.js';

const PAGE = 50;
const EVENTS = [
  ['', 'Every event'],
  ['sign_in', 'Signed in'],
  ['sign_in_failed', 'Sign-in refused'],
  ['sign_out', 'Signed out'],
  ['disconnect', 'Disconnected a connection'],
  ['token_key_rotation', 'Token key rotation'],
  ['retention_run', 'Retention run'],
];
const LABEL = Object.fromEntries(EVENTS);
const KIND = { sign_in_failed: 'bad', disconnect: 'warn', sign_in: 'ok' };

/** What the entry says beyond its event, for people (detail values are fixed phrases and counts). */
function describe(entry) {
  const d = entry.detail;
  switch (entry.event) {
    case 'sign_in':
      return d.via === 'login_link' ? 'with the one-click link' : 'with the admin token';
    case 'sign_in_failed':
      return entry.counted_minute
        ? `${number(entry.count)} attempts refused unchecked in this minute (${d.reason}, ${d.via})`
        : `${d.reason} (${d.via})`;
    case 'disconnect':
      return `connection ${entry.connection} (${d.via})`;
    case 'token_key_rotation':
      return d.failed
        ? 'failed'
        : `re-sealed ${d.resealed}, current ${d.current}, unreadable ${d.unreadable}`;
    case 'retention_run':
      return d.failed
        ? 'failed'
        : Object.entries(d)
            .filter(([key, value]) => key !== 'failed' && value > 0)
            .map(([key, value]) => `${key} ${number(value)}`)
            .join(', ');
    default:
      return '';
  }
}

export async function renderAudit(view, ctx, params) {
  const event = params.get('event') ?? '';
  const select = h(
    'select',
    { name: 'event', 'aria-label': 'Event' },
    EVENTS.map(([v, l]) => h('option', { value: v, selected: v === event }, l)),
  );
  const form = h(
    'form',
    {
      class: 'toolbar',
      id: 'audit-filters',
      onsubmit: (e) => {
        e.preventDefault();
        ctx.navigate(`#/audit${query({ event: select.value })}`);
      },
    },
    select,
    h('button', { class: 'button ghost', type: 'submit' }, 'Filter'),
  );
  const list = h('div', { id: 'audit-list' });
  const more = h(
    'button',
    { class: 'button ghost', type: 'button', id: 'audit-older', hidden: true },
    'Older',
  );
  const rows = [];
  let cursor = null;

  async function load() {
    const page = await api(`/api/audit${query({ event, limit: PAGE, cursor })}`);
    rows.push(...page.entries);
    cursor = page.next_cursor;
    more.hidden = cursor === null;
    show(
      list,
      rows.length === 0
        ? emptyState('Nothing recorded yet.')
        : table(
            [{ label: 'When' }, { label: 'Event' }, { label: 'Client' }, { label: 'Details' }],
            rows.map((entry) => ({
              dataset: { event: entry.event, id: String(entry.id) },
              cells: [
                h('span', { title: entry.at }, time(entry.at)),
                badge(LABEL[entry.event] ?? entry.event, KIND[entry.event] ?? 'neutral'),
                entry.client ?? h('span', { class: 'dim' }, entry.counted_minute ? 'many' : '—'),
                describe(entry),
              ],
            })),
            { name: 'audit' },
          ),
    );
  }
  more.addEventListener('click', () => void load());
  await load();

  show(
    view,
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        null,
        h('h1', null, 'Audit log'),
        h(
          'div',
          { class: 'sub' },
          'Sign-ins, sign-outs, disconnects, token key rotations and retention runs',
        ),
      ),
    ),
    card('Entries', 'newest first', form, list, more),
  );
}
