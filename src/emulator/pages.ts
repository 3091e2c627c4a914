// Server-rendered HTML for the emulator: the shared layout and style, the consent and error pages.
import type { Response } from 'express';
import { inlineStyleHashes } from '../../middleware/securityHeaders';
import { html, SafeHtml } from '../pages/html';

/**
 * What every page needs besides middleware/securityHeaders' CSP (no inline script, no framing of
 * the Approve button), which the app or listen() applies wherever the emulator is served.
 */
const PAGE_HEADERS = { 'Cache-Control': 'no-store' };

const STYLE = new SafeHtml(`
:root { --ink: #1d1733; --muted: #6b6585; --line: #e6e3f0; --brand: #5b2ee5; --brand-dark: #4320b8;
  --ok: #137a4b; --ok-bg: #e3f6ec; --bad: #b42318; --bad-bg: #fdecea; --run: #1f5fbf; --run-bg: #e6efff;
  --page: #f6f5fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: var(--page); }
header.bar { display: flex; align-items: center; gap: 12px; padding: 12px 24px; background: #fff;
  border-bottom: 1px solid var(--line); }
.logo { font-weight: 800; font-size: 20px; color: var(--brand); letter-spacing: -0.5px; }
.tag { font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 999px;
  padding: 1px 8px; }
main { max-width: 1100px; margin: 24px auto; padding: 0 24px; }
h1 { font-size: 22px; margin: 0 0 16px; }
h2 { font-size: 16px; margin: 0 0 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 18px 20px;
  box-shadow: 0 1px 2px rgba(29, 23, 51, 0.04); margin-bottom: 16px; }
.card.narrow { max-width: 520px; margin: 48px auto; }
label { display: block; margin: 8px 0; color: var(--muted); font-size: 13px; }
input, select { display: block; width: 100%; margin-top: 4px; padding: 7px 9px; font: inherit;
  color: var(--ink); border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.row { display: flex; gap: 10px; }
.row > * { flex: 1; }
button { font: inherit; font-weight: 600; border-radius: 6px; padding: 8px 14px; cursor: pointer;
  border: 1px solid var(--brand); background: var(--brand); color: #fff; }
button:hover { background: var(--brand-dark); }
button.secondary { background: #fff; color: var(--brand); }
.actions { display: flex; justify-content: flex-end; gap: 10px; margin-top: 16px; }
.muted { color: var(--muted); }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--page);
  padding: 1px 5px; border-radius: 4px; word-break: break-all; }
table { width: 100%; border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
.badge { display: inline-block; font-size: 12px; font-weight: 600; border-radius: 999px;
  padding: 1px 9px; background: var(--page); color: var(--muted); }
.badge.ok { background: var(--ok-bg); color: var(--ok); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.badge.run { background: var(--run-bg); color: var(--run); }
.scope { display: flex; gap: 10px; align-items: baseline; padding: 12px; border-radius: 8px;
  background: var(--page); margin: 12px 0; }
.error { color: var(--bad); }
details { margin-top: 8px; }
summary { cursor: pointer; color: var(--muted); }
#status { min-height: 20px; margin: 0 0 12px; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; padding: 6px 10px; }
legend { color: var(--muted); font-size: 13px; }
label.inline { display: inline-flex; align-items: center; gap: 4px; margin: 4px 12px 4px 0; }
label.inline input { display: inline; width: auto; margin: 0; }
table.scorecard { table-layout: fixed; }
table.scorecard th:first-child { width: 84px; }
table.scorecard .badge { white-space: nowrap; }
table.scorecard td { overflow-wrap: anywhere; }
`);

/** A whole document around `body`, with the product's look. */
export function layout(options: { title: string; body: SafeHtml; script?: string }): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title}</title>
        <link rel="icon" href="data:," />
        <style>
          ${STYLE}
        </style>
        ${options.script === undefined ? '' : html`<script src="${options.script}" defer></script>`}
      </head>
      <body>
        <header class="bar">
          <span class="logo">heap</span><span class="tag">local emulator</span>
        </header>
        ${options.body}
      </body>
    </html>`;
}

export function sendHtml(res: Response, status: number, page: SafeHtml): void {
  res.status(status).set(PAGE_HEADERS).type('html').send(page.toString());
}

export function errorPage(title: string, message: string): SafeHtml {
  return layout({
    title,
    body: html`<main>
      <section class="card narrow">
        <h1 class="error">${title}</h1>
        <p>${message}</p>
      </section>
    </main>`,
  });
}

export type ConsentView = {
  /** The form's target (the authorize URL under the emulator's mount point). */
  action: string;
  appName: string;
  scope: string;
  redirectUri: string;
  nonce: string;
  suggestedEnvId: string;
  suggestedAuthorizedBy: string;
};

/** The page where the customer approves or denies a partner app's access. */
export function consentPage(view: ConsentView): SafeHtml {
  return layout({
    title: `Authorize ${view.appName}`,
    body: html`<main>
      <section class="card narrow">
        <h1>Authorize ${view.appName}</h1>
        <p><strong>${view.appName}</strong> is asking to connect to your Heap environment.</p>
        <div class="scope">
          <span class="badge run">${view.scope}</span>
          <span
            >Send ${view.appName} the users who enter or leave the segments you choose to
            sync.</span
          >
        </div>
        <form method="post" action="${view.action}">
          <input type="hidden" name="nonce" value="${view.nonce}" />
          <div class="row">
            <label
              >Signed in as <input name="authorized_by" value="${view.suggestedAuthorizedBy}"
            /></label>
            <label
              >Heap environment id
              <input name="env_id" value="${view.suggestedEnvId}" inputmode="numeric" />
            </label>
          </div>
          <p class="muted">Either way you go back to <code>${view.redirectUri}</code>.</p>
          <div class="actions">
            <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
            <button type="submit" name="decision" value="approve">Approve</button>
          </div>
        </form>
      </section>
    </main>`,
  });
}

/** The CSP hashes of the pages' inline stylesheet (the same on every emulator page). */
export const EMULATOR_STYLE_HASHES = inlineStyleHashes(errorPage('', '').toString());
