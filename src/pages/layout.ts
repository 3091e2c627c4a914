// The shared HTML shell for server-rendered pages: head, styles, header and a main column.
import { html, SafeHtml } from './html';

const STYLES = `
:root{--ink:#1d2433;--muted:#5b6475;--line:#e3e6ee;--bg:#f6f7fb;--brand:#5b3df5;--ok:#0f8a5f;--bad:#c2372b}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#fff;border-bottom:1px solid var(--line);padding:14px 28px;display:flex;gap:18px;align-items:center}
header .logo{font-weight:700;color:var(--brand);text-decoration:none}header nav a{color:var(--muted);text-decoration:none;margin-right:14px}
main{max-width:760px;margin:40px auto;padding:0 20px}
.card{background:#fff;border:1px solid var(--line);border-radius:12px;padding:28px 32px;box-shadow:0 1px 2px rgba(20,20,50,.04)}
h1{font-size:24px;margin:0 0 8px}p.lead{color:var(--muted);margin-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:8px 20px;margin:20px 0}dt{color:var(--muted)}dd{margin:0;font-family:ui-monospace,Menlo,monospace;word-break:break-all}
.button{display:inline-block;background:var(--brand);color:#fff;border:0;border-radius:8px;padding:10px 18px;font-size:15px;font-weight:600;text-decoration:none;cursor:pointer}
.button.secondary{background:#fff;color:var(--ink);border:1px solid var(--line)}
.badge{display:inline-block;border-radius:999px;padding:2px 10px;font-size:13px;font-weight:600}
.badge.ok{background:#e6f6ef;color:var(--ok)}.badge.bad{background:#fdecea;color:var(--bad)}
.actions{display:flex;gap:12px;margin-top:24px;flex-wrap:wrap}code{background:#f0f1f6;padding:1px 6px;border-radius:4px}
`;

export function layout(options: { title: string; body: SafeHtml }): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · heap-partner-api</title>
        <style>
          ${new SafeHtml(STYLES)}
        </style>
      </head>
      <body>
        <header><a class="logo" href="/">heap-partner-api</a></header>
        <main>${options.body}</main>
      </body>
    </html>`.toString();
}
