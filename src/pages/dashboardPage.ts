// The dashboard's HTML shell: header with Connect Heap, the landing intro, and the JS modules that take over.
import { html } from './html';

export type DashboardPageOptions = {
  publicUrl: string;
  oauthEnabled: boolean;
  /** The emulator's Developers Hub (development sandbox only). */
  hubUrl?: string;
};

/**
 * Everything here is server-rendered and escaped; the scripts only add views built with
 * textContent. Without JavaScript the page still explains the service and connects Heap.
 */
export function dashboardPage(options: DashboardPageOptions): string {
  const { publicUrl, oauthEnabled, hubUrl } = options;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Segment Sync · heap-partner-api</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/assets/dashboard.css" />
        <script type="module" src="/assets/js/app.js"></script>
      </head>
      <body
        data-public-url="${publicUrl}"
        data-hub-url="${hubUrl ?? ''}"
        data-oauth-enabled="${oauthEnabled ? 'true' : 'false'}"
      >
        <header class="topbar">
          <a class="brand" href="/#/"
            ><span class="brand-mark" aria-hidden="true"></span>Segment Sync</a
          >
          <nav class="nav" id="nav" hidden>
            <a href="/#/" data-nav="overview">Overview</a>
            <a href="/#/deliveries" data-nav="deliveries">Deliveries</a>
            <a href="/#/audit" data-nav="audit">Audit</a>
            <a href="/docs">API</a>
          </nav>
          <div class="topbar-actions">
            ${
              hubUrl
                ? html`<a class="hub-link" href="${hubUrl}" target="_blank" rel="noopener"
                    >Developers Hub <span class="tag">emulator</span></a
                  >`
                : ''
            }
            <form method="post" action="/api/authorize" class="connect-form">
              <button class="button" type="submit" ${oauthEnabled ? '' : 'disabled'}>
                Connect Heap
              </button>
            </form>
            <button class="button ghost" id="sign-out" type="button" hidden>Sign out</button>
          </div>
        </header>
        <main id="view">
          <section class="hero">
            <h1>Sync Heap segments into your product</h1>
            <p class="lead">
              Connect a Heap environment, and every segment you turn on in Heap is kept up to date
              here: users who enter or leave arrive as signed webhooks and are applied exactly once.
            </p>
            ${
              oauthEnabled
                ? ''
                : html`<p class="notice bad">
                    Connect Heap is not configured: the start-up log says which settings are
                    missing.
                  </p>`
            }
            ${
              hubUrl
                ? html`<p class="notice">
                    <strong>Local sandbox.</strong> No Heap account needed: Connect Heap goes to the
                    built-in Heap emulator, and its <a href="${hubUrl}">Developers Hub</a> sends
                    segment syncs to this app.
                  </p>`
                : ''
            }
            <noscript><p class="notice bad">The dashboard needs JavaScript.</p></noscript>
          </section>
        </main>
        <footer class="footer">
          <span>Webhook URL <code>${publicUrl}/webhook</code></span>
          <span>Health <code>${publicUrl}/healthcheck</code></span>
          <a href="/docs">Admin API docs</a>
        </footer>
      </body>
    </html>`.toString();
}
