// The Developers Hub page: what a person uses to send syncs and drains and to watch their deliveries.
import { Router, type Request } from 'express';
import { html, type SafeHtml } from '../pages/html';
import { CHECK_GROUPS, type CheckResult } from '../checker';
import type { CheckRunner, CheckRunRecord } from './checks';
import { FAULT_MODES, type FaultInjector, type Faults } from './faults';
import { HUB_SCRIPT } from './hubScript';
import { AUTHORIZE_PATH, METADATA_PATH, TOKEN_PATH } from './oauth';
import type { ResolvedClient } from './options';
import { layout, sendHtml } from './pages';
import type { Connection, OAuthProvider } from './provider';
import type { HubState, PageRecord, RunRecord, SegmentState } from './state';

export const HUB_PAGE_PATH = '/developers-hub';
const SCRIPT_PATH = `${HUB_PAGE_PATH}/hub.js`;
/** The page shows the newest runs; the API lists them all. */
const RUNS_SHOWN = 20;

export type HubPageDeps = {
  state: HubState;
  provider: OAuthProvider;
  faults: FaultInjector;
  checks: CheckRunner;
  clients: readonly ResolvedClient[];
  /** The mount point's absolute URL, for the settings a partner copies into their app. */
  publicBaseUrl: (req: Request) => string;
};

type LiveView = {
  webhookUrl: string;
  faults: Faults;
  connections: Connection[];
  segments: SegmentState[];
  runs: RunRecord[];
  check: CheckRunRecord | null;
};

export function hubPageRouter(deps: HubPageDeps): Router {
  const router = Router();
  const live = (): LiveView => ({
    webhookUrl: deps.state.webhookUrl,
    faults: deps.faults.current,
    connections: deps.provider.listConnections(),
    segments: deps.state.listSegments(),
    runs: deps.state.listRuns().slice(0, RUNS_SHOWN),
    check: deps.checks.latest,
  });

  router.get(HUB_PAGE_PATH, (req, res) => {
    if (req.query.fragment === 'live') {
      sendHtml(res, 200, liveSection(live()));
      return;
    }
    sendHtml(
      res,
      200,
      hubPage({
        base: req.baseUrl,
        publicBase: deps.publicBaseUrl(req),
        clients: deps.clients,
        live: live(),
      }),
    );
  });
  router.get(SCRIPT_PATH, (_req, res) => {
    res.set('Cache-Control', 'no-cache');
    res.type('js').send(HUB_SCRIPT);
  });
  return router;
}

function hubPage(view: {
  base: string;
  publicBase: string;
  clients: readonly ResolvedClient[];
  live: LiveView;
}): SafeHtml {
  return layout({
    title: 'Developers Hub · Heap emulator',
    script: `${view.base}${SCRIPT_PATH}`,
    body: html`<main id="hub" data-base="${view.base}">
      <h1>Developers Hub</h1>
      <p id="status" class="muted">
        Everything here is sent to your app over HTTP, signed with its webhook secret, as Heap
        would.
      </p>
      <div class="grid">
        ${appCard(view.base, view.publicBase, view.clients)} ${sampleCard()} ${syncCard()}
        ${drainCard()} ${webhookCard(view.live.webhookUrl)} ${faultsCard(view.live.faults)}
        ${checkCard()}
      </div>
      <div id="live">${liveSection(view.live)}</div>
    </main>`,
  });
}

function appCard(base: string, publicBase: string, clients: readonly ResolvedClient[]): SafeHtml {
  return html`<section class="card">
    <h2>Your app's OAuth settings</h2>
    <p class="muted">Point your app at <code>${publicBase}</code> instead of Heap.</p>
    <table>
      <tr>
        <th>Authorize</th>
        <td><code>${publicBase}${AUTHORIZE_PATH}</code></td>
      </tr>
      <tr>
        <th>Token</th>
        <td><code>${publicBase}${TOKEN_PATH}</code></td>
      </tr>
      <tr>
        <th>Metadata</th>
        <td><code>${publicBase}${METADATA_PATH}/{id_token}</code></td>
      </tr>
    </table>
    ${clients.map((client) => {
      const tryIt = new URLSearchParams({
        client_id: client.clientId,
        redirect_uri: client.redirectUri,
        response_type: 'code',
        scope: 'segment',
        state: 'from-developers-hub',
      });
      return html`<p>
        <strong>${client.appName}</strong> · client_id <code>${client.clientId}</code><br />
        redirect_uri <code>${client.redirectUri}</code><br />
        <a href="${base}${AUTHORIZE_PATH}?${tryIt.toString()}">Open the consent page</a>
      </p>`;
    })}
  </section>`;
}

function idTokenField(): SafeHtml {
  return html`<label
    >id_token (empty = your own environment)
    <input name="id_token" list="connection-tokens" autocomplete="off"
  /></label>`;
}

function sampleCard(): SafeHtml {
  return html`<section class="card">
    <h2>Send sample segment</h2>
    <p class="muted">One signed page with a few dummy users, sent once, like Heap's button.</p>
    <form data-action="sample">
      ${idTokenField()}
      <div class="actions"><button type="submit">Send sample segment</button></div>
    </form>
  </section>`;
}

function syncCard(): SafeHtml {
  return html`<section class="card">
    <h2>Segment sync</h2>
    <form data-action="sync">
      ${idTokenField()}
      <div class="row">
        <label
          >Segment id <input name="segment_id" type="number" min="0" value="42" required
        /></label>
        <label>Segment name <input name="segment_name" placeholder="Segment 42" /></label>
      </div>
      <label
        >Change
        <select name="mode">
          <option value="users">Members become users 1..N</option>
          <option value="churn">Some leave, some join</option>
          <option value="none">Nothing changed (one empty page)</option>
        </select>
      </label>
      <div class="row">
        <label>N <input name="users" type="number" min="0" value="250" /></label>
        <label>Join <input name="churn_add" type="number" min="0" value="5" /></label>
        <label>Leave <input name="churn_remove" type="number" min="0" value="3" /></label>
        <label>Page size <input name="page_size" type="number" min="1" value="100" /></label>
      </div>
      <div class="actions"><button type="submit">Run sync</button></div>
    </form>
  </section>`;
}

function drainCard(): SafeHtml {
  return html`<section class="card">
    <h2>Drain a segment</h2>
    <p class="muted">Tells your app to empty the segment.</p>
    <form data-action="drain">
      ${idTokenField()}
      <label
        >Segment id <input name="segment_id" type="number" min="0" value="42" required
      /></label>
      <div class="actions"><button type="submit">Send drain</button></div>
    </form>
  </section>`;
}

function webhookCard(url: string): SafeHtml {
  return html`<section class="card">
    <h2>Webhook</h2>
    <form data-action="webhook">
      <label>URL <input name="url" type="url" value="${url}" required /></label>
      <p class="muted">Signed with the webhook secret this emulator was started with.</p>
      <div class="actions"><button type="submit">Save</button></div>
    </form>
  </section>`;
}

function faultsCard(faults: Faults): SafeHtml {
  const select = (name: string, current: string) =>
    html`<select name="${name}">
      ${FAULT_MODES.map((mode) =>
        mode === current
          ? html`<option value="${mode}" selected>${mode}</option>`
          : html`<option value="${mode}">${mode}</option>`,
      )}
    </select>`;
  return html`<section class="card">
    <h2>Make the OAuth provider misbehave</h2>
    <form data-action="faults">
      <div class="row">
        <label>Token endpoint ${select('token', faults.token)}</label>
        <label>Metadata endpoint ${select('metadata', faults.metadata)}</label>
      </div>
      <label
        >Hold a "timeout" response for (ms)
        <input name="hold_ms" type="number" min="1" value="${faults.holdMs}"
      /></label>
      <div class="actions">
        <button type="submit" class="secondary" data-action="faults-reset">Reset</button>
        <button type="submit">Apply</button>
      </div>
    </form>
  </section>`;
}

function checkCard(): SafeHtml {
  return html`<section class="card">
    <h2>Check a receiver</h2>
    <p class="muted">
      Scores the webhook URL as <code>heap-partner-api check</code> does: forged and stale requests
      refused, raw-byte signing, retries, big pages, Heap's published variants. It sends real
      deliveries (to segments of their own) signed with this emulator's secret.
    </p>
    <form data-action="check">
      ${idTokenField()}
      <fieldset>
        <legend>Groups (none ticked = all)</legend>
        ${CHECK_GROUPS.filter((group) => group !== 'state').map(
          (group) =>
            html`<label class="inline"
              ><input type="checkbox" name="group" value="${group}" /> ${group}</label
            >`,
        )}
      </fieldset>
      <div class="actions">
        <button type="submit" class="secondary" data-action="check-cancel">Cancel</button>
        <button type="submit">Run the checks</button>
      </div>
    </form>
  </section>`;
}

/** The latest check run: progress while it runs, the scorecard once it ended. */
function checkBlock(run: CheckRunRecord): SafeHtml {
  const card = run.scorecard;
  const badge = run.state === 'running' ? 'run' : card?.ok ? 'ok' : 'bad';
  const label =
    run.state === 'running'
      ? 'checking'
      : run.state === 'cancelled'
        ? 'cancelled'
        : card?.ok
          ? 'passed'
          : 'failed';
  const shown = run.results.filter((result) => result.status !== 'skip');
  return html`<section class="card" id="check-run">
    <h2>Receiver check</h2>
    <p>
      <span class="badge ${badge}">${label}</span> <code>${run.url}</code> ·
      ${run.results.length}/${run.total} checks · ${time(run.startedAt)}
      ${
        card
          ? html` · score
              <strong data-score="${card.score}">${card.score}%</strong> (${card.totals.pass} pass,
              ${card.totals.fail} fail, ${card.totals.warn} warn, ${card.totals.skip} skipped)`
          : ''
      }
    </p>
    ${run.current === null ? '' : html`<p class="muted">Running: ${run.current}</p>`}
    ${run.error === null ? '' : html`<p class="error">${run.error}</p>`}
    ${
      shown.length === 0
        ? ''
        : html`<table class="scorecard">
            <tr>
              <th>Result</th>
              <th>Check</th>
              <th>Sent</th>
              <th>Received</th>
            </tr>
            ${shown.map(checkRow)}
          </table>`
    }
  </section>`;
}

function checkRow(result: CheckResult): SafeHtml {
  const badge = result.status === 'pass' ? 'ok' : result.status === 'warn' ? 'run' : 'bad';
  const explain =
    result.status === 'pass'
      ? ''
      : html`<details open>
          <summary>Why and how to fix</summary>
          ${result.detail === undefined ? '' : html`<p>${result.detail}</p>`}
          <p>${result.why}</p>
          <p><strong>Fix:</strong> ${result.fix}</p>
        </details>`;
  return html`<tr data-check="${result.id}" data-status="${result.status}">
    <td><span class="badge ${badge}">${result.status}</span></td>
    <td>${result.title}<br /><code>${result.id}</code>${explain}</td>
    <td>${result.sent}</td>
    <td>${result.received}</td>
  </tr>`;
}

/** The part the script refreshes: connections, segments, runs and their attempts. */
function liveSection(view: LiveView): SafeHtml {
  const running =
    view.runs.some((run) => run.state === 'running') || view.check?.state === 'running';
  return html`<div ${running ? html`data-running="true"` : ''}>
    ${view.check === null ? '' : checkBlock(view.check)}
    <datalist id="connection-tokens">
      ${view.connections.map((c) => html`<option value="${c.idToken}">${c.authorizedBy}</option>`)}
    </datalist>
    <section class="card">
      <h2>Runs</h2>
      <p class="muted">
        Deliveries go to <code>${view.webhookUrl}</code>. Provider faults: token
        <span class="badge">${view.faults.token}</span>, metadata
        <span class="badge">${view.faults.metadata}</span>.
      </p>
      ${view.runs.length === 0 ? html`<p class="muted">Nothing sent yet.</p>` : view.runs.map(runBlock)}
    </section>
    <div class="grid">
      <section class="card">
        <h2>Connections</h2>
        ${
          view.connections.length === 0
            ? html`<p class="muted">No app has been authorized yet.</p>`
            : html`<table>
                <tr>
                  <th>id_token</th>
                  <th>Environment</th>
                  <th>Authorized by</th>
                  <th>When</th>
                </tr>
                ${view.connections.map(
                  (c) =>
                    html`<tr>
                      <td><code>${c.idToken}</code></td>
                      <td>${c.envId}</td>
                      <td>${c.authorizedBy}</td>
                      <td>${time(c.authorizedAt)}</td>
                    </tr>`,
                )}
              </table>`
        }
      </section>
      <section class="card">
        <h2>Segments (as your app has acknowledged them)</h2>
        ${
          view.segments.length === 0
            ? html`<p class="muted">No segment synced yet.</p>`
            : html`<table>
                <tr>
                  <th>Segment</th>
                  <th>Environment</th>
                  <th>Members</th>
                </tr>
                ${view.segments.map(
                  (s) =>
                    html`<tr>
                      <td>${s.segment.name} (${s.segment.id})</td>
                      <td>${environment(s.idToken)}</td>
                      <td>
                        ${s.membership.members.size}${s.busy ? html` <span class="badge run">syncing</span>` : ''}
                      </td>
                    </tr>`,
                )}
              </table>`
        }
      </section>
    </div>
  </div>`;
}

function runBlock(run: RunRecord): SafeHtml {
  const delivered = run.pages.filter((page) => page.state === 'delivered').length;
  const failed = run.pages.filter((page) => page.state === 'failed').length;
  const attempts = run.pages.reduce((sum, page) => sum + page.attempts.length, 0);
  const badge = run.state === 'succeeded' ? 'ok' : run.state === 'failed' ? 'bad' : 'run';
  const rows = run.pages.flatMap((page) =>
    page.attempts.length === 0
      ? [pendingRow(page)]
      : page.attempts.map(
          (a) =>
            html`<tr>
              <td>${pageLabel(page)}</td>
              <td>${a.attempt}</td>
              <td>${a.status === null ? '—' : a.status}</td>
              <td>${a.latencyMs} ms</td>
              <td>${a.waitedMs} ms</td>
              <td>${time(a.at)}</td>
              <td>${a.error ?? ''}</td>
            </tr>`,
        ),
  );
  const details = html`<summary>Pages and attempts</summary>
    <table>
      <tr>
        <th>Page</th>
        <th>Attempt</th>
        <th>Status</th>
        <th>Latency</th>
        <th>Waited</th>
        <th>Time</th>
        <th>Error</th>
      </tr>
      ${rows}
    </table>`;
  return html`<article class="card">
    <p>
      <span class="badge ${badge}">${run.state}</span>
      <strong>${run.kind}</strong> · ${run.segment.name} (${run.segment.id}) ·
      ${environment(run.idToken)} · pages ${delivered}/${run.pages.length}
      delivered${failed > 0 ? `, ${failed} failed` : ''} · ${attempts} attempt(s) ·
      +${run.changes.add} −${run.changes.remove} · ${time(run.startedAt)}
    </p>
    ${run.error === null ? '' : html`<p class="error">${run.error}</p>`}
    ${
      run.state === 'succeeded'
        ? html`<details data-run="${run.id}">${details}</details>`
        : html`<details data-run="${run.id}" open>${details}</details>`
    }
  </article>`;
}

function pendingRow(page: PageRecord): SafeHtml {
  return html`<tr>
    <td>${pageLabel(page)}</td>
    <td colspan="6" class="muted">${page.state}</td>
  </tr>`;
}

function pageLabel(page: PageRecord): string {
  return page.pageNumber === null ? 'drain' : String(page.pageNumber);
}

function environment(idToken: string | undefined): string {
  return idToken === undefined ? 'own environment' : idToken;
}

function time(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)} UTC`;
}
