// A segment: its numbers, size over time, sync task progress ("page x of y") and a searchable, paged members table.
import { api, apiPath, ApiError, query } from '../api.js';
import { drawSizeChart } from '../chart.js';
import { badge, card, emptyState, h, show, table, tile } from '../dom.js';
import { ago, connectionName, number, segmentName, time } from '../format.js';

const PAGE_SIZES = [50, 100, 500];

export async function renderSegment(view, ctx, { connection, segmentId }) {
  const base = apiPath`/api/connections/${connection}/segments/${segmentId}`;
  let segment;
  try {
    segment = await api(base);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      show(
        view,
        card(
          'Segment not found',
          null,
          emptyState(
            'This segment has not been synced.',
            h('a', { class: 'button ghost', href: '#/' }, 'Back to the overview'),
          ),
        ),
      );
      return;
    }
    throw e;
  }
  const [{ connections }, { sync_tasks: tasks }, history] = await Promise.all([
    api('/api/connections'),
    api(`${base}/sync-tasks?limit=10`),
    api(`${base}/size-history?max_points=400`),
  ]);

  const canvas = h('canvas', {
    class: 'chart',
    id: 'size-chart',
    role: 'img',
    'aria-label': 'Segment size over time',
  });
  const membersCard = h('section', { class: 'card', id: 'members' });

  show(
    view,
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        null,
        h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Overview'), ' › Segment'),
        h('h1', { id: 'segment-title' }, segmentName(segment)),
        h(
          'div',
          { class: 'sub' },
          `Segment ${segment.segment_id} · ${connectionName(segment.connection, connections)}`,
        ),
      ),
      h('a', { class: 'button ghost', href: `${base}/members.csv`, download: '' }, 'Download CSV'),
    ),
    h(
      'div',
      { class: 'grid tiles' },
      tile('Members', h('span', { id: 'member-count' }, number(segment.member_count)), 'right now'),
      tile('Last sync', ago(segment.last_sync_at), time(segment.last_sync_at)),
      tile(
        'Last drain',
        segment.last_drain_at ? ago(segment.last_drain_at) : 'never',
        time(segment.last_drain_at),
      ),
      tile('First seen', ago(segment.created_at), time(segment.created_at)),
    ),
    card('Size over time', history.downsampled ? 'last 30 days, thinned' : 'last 30 days', canvas),
    tasksCard(tasks),
    membersCard,
  );
  drawSizeChart(canvas, history.points);
  await renderMembers(membersCard, base, segment);
}

function tasksCard(tasks) {
  const body =
    tasks.length === 0
      ? emptyState('No sync task yet.')
      : table(
          [
            { label: 'Sync task' },
            { label: 'Progress' },
            { label: 'Status' },
            { label: 'First page' },
            { label: 'Last page' },
          ],
          tasks.map((t) => [
            h(
              'span',
              { class: 'mono', title: t.sync_task_id },
              t.sync_task_id.length > 18 ? `${t.sync_task_id.slice(0, 18)}…` : t.sync_task_id,
            ),
            h(
              'div',
              { class: 'progress' },
              h(
                'div',
                { class: 'bar' },
                h('div', {
                  class: `fill${t.complete ? ' done' : ''}`,
                  style: { width: `${Math.min(100, (t.pages_received / t.total_pages) * 100)}%` },
                }),
              ),
              h(
                'span',
                { class: 'task-progress' },
                `page ${number(t.pages_received)} of ${number(t.total_pages)}`,
              ),
            ),
            t.complete ? badge('Complete', 'ok') : badge('In progress', 'warn'),
            time(t.first_delivery_at),
            time(t.last_delivery_at),
          ]),
          { name: 'sync-tasks' },
        );
  return card('Sync tasks', 'every page counted, in any order', body);
}

/** Keyset paging: "Next" follows the server's cursor; "Previous" goes back through the ones seen. */
async function renderMembers(container, base, segment) {
  const state = { prefix: '', limit: PAGE_SIZES[0], cursors: [null], index: 0 };
  const search = h('input', {
    type: 'search',
    id: 'member-search',
    placeholder: 'Search user ids by prefix',
    'aria-label': 'Search members',
  });
  const size = h(
    'select',
    { 'aria-label': 'Rows per page' },
    PAGE_SIZES.map((n) => h('option', { value: n }, `${n} per page`)),
  );
  const body = h('div');
  const status = h('span', { id: 'members-status' });
  const prev = h(
    'button',
    { class: 'button ghost small', type: 'button', id: 'members-prev' },
    '← Previous',
  );
  const next = h(
    'button',
    { class: 'button ghost small', type: 'button', id: 'members-next' },
    'Next →',
  );

  let generation = 0;
  async function load() {
    // Only the latest request may draw: typing fast must not leave an older answer on screen.
    const mine = ++generation;
    const cursor = state.cursors[state.index];
    const page = await api(
      `${base}/members${query({ limit: state.limit, prefix: state.prefix, cursor })}`,
    );
    if (mine !== generation) return;
    state.cursors[state.index + 1] = page.next_cursor;
    state.cursors.length = state.index + 2;
    const first = state.index * state.limit;
    show(
      body,
      page.members.length === 0
        ? emptyState(
            state.prefix
              ? `No member's id starts with “${state.prefix}”.`
              : 'This segment has no members.',
          )
        : table(
            [{ label: '#', num: true, narrow: true }, { label: 'User id' }],
            page.members.map((id, i) => [
              h('span', { class: 'dim' }, number(first + i + 1)),
              h('span', { class: 'mono member-id' }, id),
            ]),
            { name: 'members' },
          ),
    );
    status.textContent =
      page.members.length === 0
        ? ''
        : `Showing ${number(first + 1)}–${number(first + page.members.length)}${state.prefix ? ' matching' : ` of ${number(segment.member_count)}`}`;
    prev.disabled = state.index === 0;
    next.disabled = page.next_cursor === null;
  }

  let debounce;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      state.prefix = search.value.trim();
      state.cursors = [null];
      state.index = 0;
      void load();
    }, 200);
  });
  size.addEventListener('change', () => {
    state.limit = Number(size.value);
    state.cursors = [null];
    state.index = 0;
    void load();
  });
  prev.addEventListener('click', () => {
    state.index = Math.max(0, state.index - 1);
    void load();
  });
  next.addEventListener('click', () => {
    state.index += 1;
    void load();
  });

  show(
    container,
    h(
      'div',
      { class: 'card-head' },
      h('h2', null, 'Members'),
      h('span', { class: 'hint' }, 'in user-id order'),
    ),
    h('div', { class: 'toolbar' }, h('div', { class: 'grow' }, search), size),
    body,
    h('div', { class: 'pager' }, status, h('div', { class: 'buttons' }, prev, next)),
  );
  await load();
}
