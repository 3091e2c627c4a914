// The Developers Hub page's browser script: forms to JSON API calls, and a refresh of the live section.

/**
 * Served as a file so the page's CSP can forbid inline script. It never builds HTML from data: the
 * live section comes from the server, where every value was escaped; messages go in textContent.
 */
export const HUB_SCRIPT = `'use strict';
(() => {
  const hub = document.getElementById('hub');
  const base = hub.dataset.base;
  const status = document.getElementById('status');
  const say = (text, bad) => {
    status.textContent = text;
    status.className = bad ? 'error' : 'muted';
  };
  const text = (form, name) => {
    const field = form.elements.namedItem(name);
    const value = field ? field.value.trim() : '';
    return value === '' ? undefined : value;
  };
  const number = (form, name) => {
    const value = text(form, name);
    return value === undefined ? undefined : Number(value);
  };
  const actions = {
    sample: (form) => ['POST', '/api/hub/sample-segment', { id_token: text(form, 'id_token') }],
    sync: (form) => {
      const body = {
        id_token: text(form, 'id_token'),
        segment_id: number(form, 'segment_id'),
        segment_name: text(form, 'segment_name'),
        page_size: number(form, 'page_size'),
      };
      const mode = text(form, 'mode');
      if (mode === 'users') body.users = number(form, 'users');
      if (mode === 'churn') {
        body.churn = { add: number(form, 'churn_add') ?? 0, remove: number(form, 'churn_remove') ?? 0 };
      }
      return ['POST', '/api/hub/syncs', body];
    },
    drain: (form) => [
      'POST',
      '/api/hub/drain',
      { id_token: text(form, 'id_token'), segment_id: number(form, 'segment_id') },
    ],
    webhook: (form) => ['PUT', '/api/hub/webhook', { url: text(form, 'url') }],
    faults: (form) => [
      'POST',
      '/api/hub/faults',
      { token: text(form, 'token'), metadata: text(form, 'metadata'), hold_ms: number(form, 'hold_ms') },
    ],
    'faults-reset': () => ['DELETE', '/api/hub/faults', undefined],
    check: (form) => {
      const groups = [...form.querySelectorAll('input[name=group]:checked')].map((box) => box.value);
      return ['POST', '/api/hub/checks', { id_token: text(form, 'id_token'), only: groups.length ? groups : undefined }];
    },
    'check-cancel': () => ['DELETE', '/api/hub/checks/latest', undefined],
  };
  const describe = (body) => {
    if (body.kind === 'sample') {
      const attempt = body.pages[0].attempts[0];
      return attempt && attempt.status !== null
        ? 'Sample segment sent: HTTP ' + attempt.status + ' in ' + attempt.latency_ms + ' ms.'
        : 'Sample segment not delivered: ' + (attempt ? attempt.error : 'no attempt');
    }
    if (body.total_checks !== undefined) {
      return body.state === 'running' && body.checks_done === 0
        ? 'Checking ' + body.webhook_url + '…'
        : 'Check ' + body.state + '.';
    }
    if (body.kind) return 'Started ' + body.kind + ' run ' + body.id + ' (' + body.total_pages + ' page(s)).';
    return 'Saved.';
  };
  let timer;
  const schedule = () => {
    clearTimeout(timer);
    const running = document.querySelector('#live [data-running]');
    timer = setTimeout(refresh, running ? 1000 : 5000);
  };
  const refresh = () => {
    fetch(base + '/developers-hub?fragment=live', { headers: { Accept: 'text/html' } })
      .then((response) => response.text())
      .then((fragment) => {
        const live = document.getElementById('live');
        const open = [...live.querySelectorAll('details[open]')].map((details) => details.dataset.run);
        live.innerHTML = fragment;
        for (const details of live.querySelectorAll('details[data-run]')) {
          if (open.includes(details.dataset.run)) details.open = true;
        }
      })
      .catch(() => say('Could not refresh; is the emulator still running?', true))
      .finally(schedule);
  };
  document.addEventListener('submit', (event) => {
    const form = event.target;
    const kind = (event.submitter && event.submitter.dataset.action) || form.dataset.action;
    if (!actions[kind]) return;
    event.preventDefault();
    const [method, path, body] = actions[kind](form);
    say('Sending…', false);
    fetch(base + path, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
      .then((response) => response.json().then((json) => ({ ok: response.ok, json })))
      .then(({ ok, json }) => {
        say(ok ? describe(json) : json.message || 'The request failed.', !ok);
        if (ok && kind === 'faults-reset') {
          form.elements.namedItem('token').value = json.token;
          form.elements.namedItem('metadata').value = json.metadata;
          form.elements.namedItem('hold_ms').value = json.hold_ms;
        }
      })
      .catch((error) => say('The request failed: ' + error.message, true))
      .finally(refresh);
  });
  schedule();
})();
`;
