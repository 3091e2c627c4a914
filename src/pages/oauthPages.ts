// HTML pages for the end of the OAuth flow: connected, refused by the customer, Heap failure, bad state.
import type { HeapFailure, HeapMetadata } from '../oauth/heapClient';
import { html } from './html';
import type { StateFailure } from '../oauth/flow';
import { layout } from './layout';

export type RenderedPage = { status: number; html: string };

export function connectedPage(options: {
  metadata: HeapMetadata;
  created: boolean;
  hubUrl?: string;
}): RenderedPage {
  const { metadata } = options;
  return {
    status: 200,
    html: layout({
      title: 'Heap connected',
      body: html`<div class="card">
        <span class="badge ok">Connected</span>
        <h1>${options.created ? 'Heap is connected' : 'Heap connection renewed'}</h1>
        <p class="lead">Segment syncs from this Heap environment will now be applied here.</p>
        <dl>
          <dt>Environment</dt>
          <dd>${metadata.envId}</dd>
          <dt>Authorized by</dt>
          <dd>${metadata.authorizedBy}</dd>
          <dt>Scope</dt>
          <dd>${metadata.authorizedScope}</dd>
          <dt>Authorized at</dt>
          <dd>${metadata.authorizedAtUtc}</dd>
        </dl>
        <div class="actions">
          <a class="button" href="/">Back to the app</a>
          ${options.hubUrl ? html`<a class="button secondary" href="${options.hubUrl}">Open the emulator's Developers Hub</a>` : ''}
        </div>
      </div>`,
    }),
  };
}

const HEAP_ERRORS: Record<string, string> = {
  access_denied: 'The Heap user chose not to authorize this app. Nothing was connected.',
  invalid_request: 'Heap considered the authorization request invalid.',
  unauthorized_client: 'Heap does not allow this app to request authorization.',
  invalid_scope: 'Heap did not accept the requested scope.',
  server_error: 'Heap ran into an error while authorizing.',
  temporarily_unavailable: 'Heap is temporarily unable to authorize; try again shortly.',
};

export function heapRefusedPage(error: string, description: string | undefined): RenderedPage {
  const explanation = HEAP_ERRORS[error] ?? 'Heap did not complete the authorization.';
  return {
    status: error === 'access_denied' ? 403 : 400,
    html: layout({
      title: 'Heap not connected',
      body: html`<div class="card">
        <span class="badge bad">Not connected</span>
        <h1>
          ${error === 'access_denied' ? 'Access was denied' : 'Heap did not authorize the app'}
        </h1>
        <p class="lead">${explanation}</p>
        <dl>
          <dt>Heap said</dt>
          <dd>${error}</dd>
          ${
            description
              ? html`<dt>Details</dt>
                  <dd>${description}</dd>`
              : ''
          }
        </dl>
        <div class="actions"><a class="button" href="/">Try again</a></div>
      </div>`,
    }),
  };
}

const STATE_MESSAGES: Record<StateFailure | 'missing_code', string> = {
  missing_state:
    'This link did not come from an authorization started in this browser (the state is missing).',
  state_mismatch: 'The authorization state does not match the one issued to this browser.',
  state_expired_or_used:
    'This authorization link has expired or was already used. Authorizations must finish within 10 minutes.',
  missing_code: 'Heap did not send an authorization code.',
};

export function badCallbackPage(reason: StateFailure | 'missing_code'): RenderedPage {
  return {
    status: 400,
    html: layout({
      title: 'Authorization not accepted',
      body: html`<div class="card">
        <span class="badge bad">Not connected</span>
        <h1>This authorization could not be accepted</h1>
        <p class="lead">${STATE_MESSAGES[reason]}</p>
        <p>Nothing was sent to Heap and nothing was stored. Start again from the app.</p>
        <div class="actions"><a class="button" href="/">Start again</a></div>
      </div>`,
    }),
  };
}

const STEP_NAMES: Record<HeapFailure['step'], string> = {
  token: 'exchanging the authorization code for a token',
  metadata: 'reading the environment metadata',
};

export function heapFailurePage(failure: HeapFailure): RenderedPage {
  return {
    status: 502,
    html: layout({
      title: 'Heap did not answer as expected',
      body: html`<div class="card">
        <span class="badge bad">Not connected</span>
        <h1>Heap did not answer as expected</h1>
        <p class="lead">
          Something went wrong while ${STEP_NAMES[failure.step]}. ${failure.detail}
        </p>
        <p>Nothing was stored. This is usually temporary: try connecting again in a moment.</p>
        <div class="actions"><a class="button" href="/">Try again</a></div>
      </div>`,
    }),
  };
}

export function oauthUnavailablePage(): RenderedPage {
  return {
    status: 503,
    html: layout({
      title: 'Connect Heap is not configured',
      body: html`<div class="card">
        <span class="badge bad">Not configured</span>
        <h1>Connect Heap is not configured</h1>
        <p class="lead">
          The operator of this service has not finished its OAuth settings; the start-up log names
          what is missing.
        </p>
      </div>`,
    }),
  };
}

/** Too many authorizations started and not finished (OAUTH_MAX_PENDING_STATES): try later. */
export function tooManyAuthorizationsPage(): RenderedPage {
  return {
    status: 503,
    html: layout({
      title: 'Connect Heap is busy',
      body: html`<div class="card">
        <span class="badge bad">Busy</span>
        <h1>Too many connections are being started right now</h1>
        <p class="lead">
          This service limits how many Heap authorizations can be in progress at once, and that
          limit is reached. Nothing was stored. Try again in a few minutes.
        </p>
        <div class="actions"><a class="button" href="/">Try again</a></div>
      </div>`,
    }),
  };
}
