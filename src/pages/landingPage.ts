// The landing page: what this service is, and the Connect Heap button (the seed's index.html role).
import { html } from '../html';
import { layout } from './layout';

export function landingPage(options: {
  publicUrl: string;
  oauthEnabled: boolean;
  hubUrl?: string;
}): string {
  return layout({
    title: 'Connect Heap',
    body: html`<div class="card">
      <h1>Sync Heap segments into your product</h1>
      <p class="lead">
        Connect a Heap environment, then every segment you turn on in Heap is kept up to date here:
        users who enter or leave arrive as signed webhooks and are applied exactly once.
      </p>
      <form method="post" action="/api/authorize">
        <button class="button" type="submit" ${options.oauthEnabled ? '' : 'disabled'}>
          Connect Heap
        </button>
      </form>
      ${options.oauthEnabled ? '' : html`<p><span class="badge bad">OAuth is not configured</span> The start-up log says which settings are missing.</p>`}
      <dl>
        <dt>Webhook URL</dt>
        <dd>${options.publicUrl}/webhook</dd>
        <dt>Health</dt>
        <dd>${options.publicUrl}/healthcheck</dd>
      </dl>
      ${
        options.hubUrl
          ? html`<p>
              <span class="badge ok">Local sandbox</span> No Heap account needed: Connect Heap goes
              to the built-in Heap emulator, and its
              <a href="${options.hubUrl}">Developers Hub</a> sends segment syncs to this app.
            </p>`
          : ''
      }
    </div>`,
  });
}
