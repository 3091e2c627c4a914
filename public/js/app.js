// The dashboard's entry: signs in (form or one-click link), routes #/… to views, signs out.
import { api, ApiError, setCsrfToken, whenUnauthorized } from './api.js';
import { card, emptyState, h, show } from './dom.js';
import { renderAudit } from './views/audit.js';
import { renderDeliveries } from './views/deliveries.js';
import { renderLogin } from './views/login.js';
import { renderOverview } from './views/overview.js';
import { renderSegment } from './views/segment.js';

const view = document.getElementById('view');
const nav = document.getElementById('nav');
const signOut = document.getElementById('sign-out');
const hubUrl = document.body.dataset.hubUrl || null;

const ctx = {
  hubUrl,
  navigate(hash) {
    if (location.hash === hash) void route();
    else location.hash = hash;
  },
  refresh: () => void route(),
};

function signedIn(session) {
  setCsrfToken(session.csrf_token);
  nav.hidden = false;
  signOut.hidden = false;
}

function signedOut(message) {
  setCsrfToken(null);
  nav.hidden = true;
  signOut.hidden = true;
  renderLogin(view, {
    hubUrl,
    message,
    onSignedIn: (session) => {
      signedIn(session);
      void route();
    },
  });
}

/** #/, #/segments/<connection>/<id>, #/deliveries?…, #/audit?… */
async function route() {
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  for (const link of nav.querySelectorAll('a[data-nav]')) {
    link.classList.toggle(
      'active',
      link.dataset.nav ===
        (parts[0] === 'deliveries' || parts[0] === 'audit' ? parts[0] : 'overview'),
    );
  }
  view.setAttribute('aria-busy', 'true');
  try {
    if (parts[0] === 'segments' && parts.length === 3) {
      await renderSegment(view, ctx, {
        connection: decodeURIComponent(parts[1]),
        segmentId: parts[2],
      });
    } else if (parts[0] === 'deliveries') {
      await renderDeliveries(view, ctx, new URLSearchParams(search));
    } else if (parts[0] === 'audit') {
      await renderAudit(view, ctx, new URLSearchParams(search));
    } else {
      await renderOverview(view, ctx);
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    show(
      view,
      card(
        'Something went wrong',
        null,
        emptyState(
          e.message || String(e),
          h('button', { class: 'button ghost', type: 'button', onclick: ctx.refresh }, 'Try again'),
        ),
      ),
    );
  } finally {
    view.removeAttribute('aria-busy');
    view.dataset.route = parts[0] ?? 'overview';
  }
}

/**
 * The banner's one-click link is /login#code=…: the code is taken out of the address bar before
 * anything else happens, then traded once for a session.
 */
async function signInWithLink() {
  const code = new URLSearchParams(location.hash.slice(1)).get('code');
  history.replaceState(null, '', '/');
  if (!code) return false;
  try {
    signedIn(await api('/api/session', { method: 'POST', body: { code }, quiet401: true }));
    return true;
  } catch {
    signedOut(
      'That sign-in link was already used or is from an earlier start of the server. Sign in with the admin token.',
    );
    return null;
  }
}

async function start() {
  whenUnauthorized(() => signedOut('Your session ended. Sign in again.'));
  signOut.addEventListener('click', async () => {
    await api('/api/session', { method: 'DELETE' }).catch(() => {});
    history.replaceState(null, '', '/');
    signedOut();
  });
  window.addEventListener('hashchange', () => void route());

  if (location.pathname === '/login') {
    const linked = await signInWithLink();
    if (linked) return route();
    if (linked === null) return;
  }
  try {
    signedIn(await api('/api/session', { quiet401: true }));
    await route();
  } catch (e) {
    signedOut(e instanceof ApiError && e.status === 401 ? undefined : e.message);
  }
}

void start();
