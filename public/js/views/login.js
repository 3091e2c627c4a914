// The signed-out view: what the service does, and the sign-in form that trades the admin token for a session.
import { api, ApiError } from '../api.js';
import { h, show } from '../dom.js';

/** Renders the sign-in form; calls onSignedIn(session) once the server accepted the token. */
export function renderLogin(view, { hubUrl, message, onSignedIn }) {
  const error = h('p', { class: 'error-text', role: 'alert' }, message ?? '');
  const input = h('input', {
    type: 'password',
    name: 'token',
    id: 'admin-token',
    autocomplete: 'current-password',
    placeholder: 'Admin token',
    required: true,
  });
  const submit = h('button', { class: 'button', type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      id: 'sign-in',
      onsubmit: async (event) => {
        event.preventDefault();
        submit.disabled = true;
        error.textContent = '';
        try {
          const session = await api('/api/session', {
            method: 'POST',
            body: { token: input.value.trim() },
            quiet401: true,
          });
          input.value = '';
          onSignedIn(session);
        } catch (e) {
          error.textContent =
            e instanceof ApiError && e.status === 401
              ? 'That is not the admin token.'
              : e.message || 'Sign-in failed.';
          input.select();
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('label', { class: 'field', for: 'admin-token' }, 'Admin token', input),
    submit,
  );
  show(
    view,
    h(
      'section',
      { class: 'hero' },
      h('h1', null, 'Sync Heap segments into your product'),
      h(
        'p',
        { class: 'lead' },
        'Connect a Heap environment, and every segment you turn on in Heap is kept up to date here, ' +
          'with its members, its history and every delivery Heap made.',
      ),
    ),
    h(
      'section',
      { class: 'card signin' },
      h('div', { class: 'card-head' }, h('h2', null, 'Sign in to the dashboard')),
      form,
      error,
      h(
        'p',
        { class: 'hint' },
        hubUrl
          ? 'Development: the start-up banner prints a one-click sign-in link; the token itself is in data/admin-token.'
          : 'Use the ADMIN_TOKEN this service was started with.',
      ),
    ),
  );
  input.focus();
}
