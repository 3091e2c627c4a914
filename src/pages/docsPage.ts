// The /docs page: Swagger UI (served from the swagger-ui-dist package) over /api/openapi.json.
import { html } from './html';

export function docsPage(): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Admin API · heap-partner-api</title>
        <link rel="icon" href="data:," />
        <link rel="stylesheet" href="/docs/swagger-ui.css" />
        <link rel="stylesheet" href="/assets/docs.css" />
      </head>
      <body>
        <header class="docs-bar">
          <a href="/">← Dashboard</a><span>Admin API</span
          ><a href="/api/openapi.json">openapi.json</a>
        </header>
        <div id="swagger"></div>
        <script src="/docs/swagger-ui-bundle.js"></script>
        <script src="/assets/js/docs.js"></script>
      </body>
    </html>`.toString();
}
