import { CONSOLE_SCRIPT } from './console.script.js';

/**
 * The /admin page: one self-contained document (no external fonts, scripts or images, for
 * air-gapped clusters), its style and script under the per-request CSP nonce. It holds no admin
 * data: the views are empty until the script, given the admin token, reads the admin API.
 * Everything dynamic is built with DOM calls (textContent), never HTML strings.
 */
export function consolePage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>Copilot Gateway — admin</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<header class="top">
  <span class="brand">Copilot Gateway <span class="brand-sub" data-t="admin"></span></span>
  <nav id="nav" data-t-label="navLabel" hidden>
    <a href="#accounts" data-t="accounts"></a>
    <a href="#keys" data-t="keys"></a>
    <a href="#usage" data-t="usage"></a>
  </nav>
  <span class="spacer"></span>
  <button id="lang" type="button" class="ghost"></button>
  <button id="signout" type="button" class="ghost" data-t="signOut" hidden></button>
</header>

<main id="main">
  <p id="notice" class="notice" role="status"></p>
  <p id="alert" class="notice error" role="alert"></p>

  <section id="view-signin" class="view signin" aria-labelledby="signin-title">
    <h1 id="signin-title" data-t="signinTitle"></h1>
    <p class="muted" data-t="signinIntro"></p>
    <form id="signin-form" class="stack" novalidate>
      <label for="token" data-t="tokenLabel"></label>
      <input id="token" type="password" autocomplete="off" spellcheck="false" required>
      <div class="row"><button id="signin" type="submit" data-t="signIn"></button></div>
    </form>
    <p id="signin-error" class="error" role="alert" hidden></p>
  </section>

  <section id="view-accounts" class="view" aria-labelledby="accounts-title" aria-busy="false" hidden>
    <div class="view-head">
      <h1 id="accounts-title" tabindex="-1" data-t="accounts"></h1>
      <button type="button" class="ghost refresh" data-t="refresh"></button>
    </div>
    <p class="muted" data-t="accountsIntro"></p>
    <p id="accounts-empty" class="empty" data-t="noAccounts" hidden></p>
    <div class="table-wrap">
      <table id="accounts-table">
        <caption class="sr-only" data-t="accounts"></caption>
        <thead><tr>
          <th scope="col" data-t="login"></th><th scope="col" data-t="status"></th><th scope="col" data-t="plan"></th>
          <th scope="col" class="num" data-t="premiumRemaining"></th><th scope="col" data-t="tokenExpiry"></th>
          <th scope="col" data-t="lastError"></th><th scope="col"><span class="sr-only" data-t="actions"></span></th>
        </tr></thead>
        <tbody id="accounts-body"></tbody>
      </table>
    </div>
    <h2 data-t="importTitle"></h2>
    <p class="muted" data-t="importIntro"></p>
    <form id="import-form" class="inline-form" novalidate>
      <label><span data-t="githubToken"></span><input id="import-token" type="password" autocomplete="off" spellcheck="false" required></label>
      <button type="submit" data-t="import"></button>
    </form>
  </section>

  <section id="view-keys" class="view" aria-labelledby="keys-title" aria-busy="false" hidden>
    <div class="view-head">
      <h1 id="keys-title" tabindex="-1" data-t="keys"></h1>
      <button type="button" class="ghost refresh" data-t="refresh"></button>
    </div>
    <h2 data-t="createTitle"></h2>
    <form id="create-form" class="inline-form" novalidate>
      <label><span data-t="account"></span><select id="create-account" required></select></label>
      <label><span data-t="name"></span><input id="create-name" maxlength="200" autocomplete="off"></label>
      <label><span data-t="expires"></span>
        <select id="create-expiry">
          <option value="" data-t="never"></option>
          <option value="604800" data-t="days7"></option>
          <option value="2592000" data-t="days30"></option>
          <option value="7776000" data-t="days90"></option>
          <option value="31536000" data-t="days365"></option>
        </select>
      </label>
      <button id="create" type="submit" data-t="createKey"></button>
    </form>
    <h2 data-t="allKeys"></h2>
    <label class="check"><input id="show-ended" type="checkbox"><span id="show-ended-label"></span></label>
    <p id="keys-empty" class="empty" data-t="noKeys" hidden></p>
    <div class="table-wrap">
      <table id="keys-table">
        <caption class="sr-only" data-t="keys"></caption>
        <thead><tr>
          <th scope="col" data-t="name"></th><th scope="col" data-t="account"></th><th scope="col" data-t="prefix"></th>
          <th scope="col" data-t="created"></th><th scope="col" data-t="lastUsed"></th><th scope="col" data-t="expires"></th>
          <th scope="col" data-t="limits"></th><th scope="col" data-t="state"></th><th scope="col"><span class="sr-only" data-t="actions"></span></th>
        </tr></thead>
        <tbody id="keys-body"></tbody>
      </table>
    </div>
  </section>

  <section id="view-usage" class="view" aria-labelledby="usage-title" aria-busy="false" hidden>
    <div class="view-head">
      <h1 id="usage-title" tabindex="-1" data-t="usage"></h1>
      <button type="button" class="ghost refresh" data-t="refresh"></button>
    </div>
    <div class="toolbar">
      <label><span data-t="stackBy"></span>
        <select id="stack">
          <option value="none" data-t="stackNone"></option>
          <option value="key" data-t="stackKey"></option>
          <option value="model" data-t="stackModel"></option>
        </select>
      </label>
      <button id="export" type="button" class="secondary" data-t="exportCsv"></button>
    </div>
    <p id="usage-totals" class="totals"></p>
    <div class="charts">
      <figure class="chart">
        <figcaption data-t="requestsPerDay"></figcaption>
        <div id="chart-requests"></div>
      </figure>
      <figure class="chart">
        <figcaption data-t="tokensPerDay"></figcaption>
        <div id="chart-tokens"></div>
      </figure>
    </div>
    <ul id="legend" class="legend" data-t-label="legend"></ul>
    <details class="daily">
      <summary data-t="dailyNumbers"></summary>
      <div class="table-wrap">
        <table id="daily-table">
          <thead><tr><th scope="col" data-t="day"></th><th scope="col" class="num" data-t="requests"></th><th scope="col" class="num" data-t="tokens"></th></tr></thead>
          <tbody id="daily-body"></tbody>
        </table>
      </div>
    </details>
    <h2 id="month-title" data-t="monthTitle"></h2>
    <div class="table-wrap">
      <table id="month-table" aria-labelledby="month-title">
        <thead><tr>
          <th scope="col" data-col="key"><button type="button" class="sort" data-sort="key"><span data-t="key"></span><span class="arrow" aria-hidden="true"></span></button></th>
          <th scope="col" data-col="account"><button type="button" class="sort" data-sort="account"><span data-t="account"></span><span class="arrow" aria-hidden="true"></span></button></th>
          <th scope="col" class="num" data-col="requests"><button type="button" class="sort" data-sort="requests"><span data-t="requests"></span><span class="arrow" aria-hidden="true"></span></button></th>
          <th scope="col" class="num" data-col="tokens"><button type="button" class="sort" data-sort="tokens"><span data-t="tokens"></span><span class="arrow" aria-hidden="true"></span></button></th>
          <th scope="col" class="num" data-col="premium"><button type="button" class="sort" data-sort="premium"><span data-t="premium"></span><span class="arrow" aria-hidden="true"></span></button></th>
        </tr></thead>
        <tbody id="month-body"></tbody>
      </table>
    </div>
    <p id="month-empty" class="empty" data-t="noUsage" hidden></p>
  </section>
</main>

<dialog id="confirm-dialog" aria-labelledby="confirm-title">
  <form id="confirm-form" novalidate>
    <h2 id="confirm-title"></h2>
    <p id="confirm-text"></p>
    <div class="row end">
      <button id="confirm-cancel" type="button" class="secondary" data-t="cancel"></button>
      <button id="confirm-ok" type="submit" class="danger"></button>
    </div>
  </form>
</dialog>

<dialog id="limits-dialog" aria-labelledby="limits-title">
  <form id="limits-form" novalidate>
    <h2 id="limits-title"></h2>
    <p class="muted" data-t="limitsIntro"></p>
    <div class="limit-grid">
      <label for="limit-requests_per_minute" data-t="limit_requests_per_minute"></label><input id="limit-requests_per_minute" type="number" min="1" step="1" inputmode="numeric" aria-describedby="limits-error">
      <label for="limit-requests_per_day" data-t="limit_requests_per_day"></label><input id="limit-requests_per_day" type="number" min="1" step="1" inputmode="numeric" aria-describedby="limits-error">
      <label for="limit-tokens_per_day" data-t="limit_tokens_per_day"></label><input id="limit-tokens_per_day" type="number" min="1" step="1" inputmode="numeric" aria-describedby="limits-error">
      <label for="limit-tokens_per_month" data-t="limit_tokens_per_month"></label><input id="limit-tokens_per_month" type="number" min="1" step="1" inputmode="numeric" aria-describedby="limits-error">
      <label for="limit-premium_requests_per_month" data-t="limit_premium_requests_per_month"></label><input id="limit-premium_requests_per_month" type="number" min="1" step="1" inputmode="numeric" aria-describedby="limits-error">
    </div>
    <p id="limits-error" class="error" role="alert" hidden></p>
    <div class="row end">
      <button id="limits-cancel" type="button" class="secondary" data-t="cancel"></button>
      <button id="limits-save" type="submit" data-t="save"></button>
    </div>
  </form>
</dialog>

<dialog id="rotate-dialog" aria-labelledby="rotate-title">
  <form id="rotate-form" novalidate>
    <h2 id="rotate-title"></h2>
    <p class="muted" data-t="rotateIntro"></p>
    <label class="stack"><span data-t="grace"></span>
      <select id="rotate-grace">
        <option value="0" data-t="graceNone"></option>
        <option value="600" data-t="grace10m"></option>
        <option value="3600" data-t="grace1h" selected></option>
        <option value="86400" data-t="grace1d"></option>
        <option value="604800" data-t="grace7d"></option>
      </select>
    </label>
    <p id="rotate-error" class="error" role="alert" hidden></p>
    <div class="row end">
      <button id="rotate-cancel" type="button" class="secondary" data-t="cancel"></button>
      <button id="rotate-ok" type="submit" data-t="rotate"></button>
    </div>
  </form>
</dialog>

<dialog id="secret-dialog" class="wide" aria-labelledby="secret-title">
  <h2 id="secret-title" data-t="secretTitle"></h2>
  <p class="warn" data-t="secretOnce"></p>
  <p id="secret-note" hidden></p>
  <div class="copy-block">
    <div class="copy-head"><h3 data-t="apiKey"></h3><button type="button" class="copy small" data-copy="secret-key" data-t="copyKey"></button></div>
    <pre id="secret-key" class="secret key"></pre>
  </div>
  <div class="copy-block">
    <div class="copy-head"><h3 data-t="cfgOpenai"></h3><button type="button" class="copy secondary small" data-copy="cfg-openai" data-t="copyOpenai"></button></div>
    <pre id="cfg-openai" class="secret"></pre>
  </div>
  <div class="copy-block">
    <div class="copy-head"><h3 data-t="cfgClaude"></h3><button type="button" class="copy secondary small" data-copy="cfg-claude" data-t="copyClaude"></button></div>
    <pre id="cfg-claude" class="secret"></pre>
  </div>
  <div class="copy-block">
    <div class="copy-head"><h3 data-t="cfgCodex"></h3><button type="button" class="copy secondary small" data-copy="cfg-codex" data-t="copyCodex"></button></div>
    <pre id="cfg-codex" class="secret"></pre>
  </div>
  <div class="row end"><button id="secret-done" type="button" data-t="done"></button></div>
</dialog>

<script nonce="${nonce}">${CONSOLE_SCRIPT}</script>
</body>
</html>`;
}

const STYLE = `
  :root {
    color-scheme: light;
    --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --panel: #f6f8fa; --row: #f6f8fa;
    --accent: #0969da; --accent-fg: #ffffff; --link: #0969da; --bad: #cf222e; --ok: #1a7f37; --warn: #9a6700;
    --grid: #d1d9e0; --backdrop: rgb(31 35 40 / 45%);
    --c0: #0969da; --c1: #bf8700; --c2: #1a7f37; --c3: #bf3989; --c4: #8250df; --c5: #bc4c00; --c6: #1b7c83; --c7: #6e7781;
  }
  @media (prefers-color-scheme: dark) {
    :root {
      color-scheme: dark;
      --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --panel: #151b23; --row: #151b23;
      --accent: #1158c7; --accent-fg: #ffffff; --link: #4493f8; --bad: #ff7b72; --ok: #3fb950; --warn: #d29922;
      --grid: #3d444d; --backdrop: rgb(1 4 9 / 70%);
      --c0: #4493f8; --c1: #d29922; --c2: #3fb950; --c3: #db61a2; --c4: #a371f7; --c5: #f0883e; --c6: #39c5cf; --c7: #9198a1;
    }
  }
  * { box-sizing: border-box; }
  html { background: var(--bg); color: var(--fg); }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; background: var(--bg); color: var(--fg); }
  a { color: var(--link); }
  :focus-visible { outline: 2px solid var(--link); outline-offset: 2px; }
  .sr-only { position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
  [hidden] { display: none !important; }

  .top { display: flex; align-items: center; gap: 1rem; padding: .6rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--panel); flex-wrap: wrap; }
  .brand { font-weight: 700; }
  .brand-sub { font-weight: 400; color: var(--muted); margin-left: .25rem; }
  nav { display: flex; gap: .25rem; }
  nav a { padding: .35rem .75rem; border-radius: 6px; text-decoration: none; color: var(--fg); }
  nav a:hover { background: var(--line); }
  nav a[aria-current="page"] { background: var(--bg); box-shadow: inset 0 -2px 0 var(--link); font-weight: 600; }
  .spacer { flex: 1; }

  main { max-width: 78rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
  h1 { font-size: 1.5rem; margin: .25rem 0; }
  h1:focus { outline: none; }
  h2 { font-size: 1.1rem; margin: 1.75rem 0 .5rem; }
  h3 { font-size: .95rem; margin: 0 0 .35rem; }
  p { margin: .4rem 0; }
  .muted { color: var(--muted); }
  .error { color: var(--bad); }
  .warn { color: var(--warn); font-weight: 600; }
  .empty { color: var(--muted); padding: 1rem; border: 1px dashed var(--line); border-radius: 8px; }
  .notice:empty { display: none; }
  .notice { padding: .5rem .75rem; border-radius: 8px; border: 1px solid var(--ok); margin: 0 0 .75rem; }
  .notice.error { border-color: var(--bad); }
  .view-head { display: flex; align-items: center; gap: 1rem; }
  .view-head h1 { flex: 1; }

  button { font: inherit; padding: .4rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg); cursor: pointer; }
  button.secondary, button.ghost, button.sort { background: transparent; color: var(--link); border-color: var(--line); }
  button.ghost { border-color: transparent; }
  button.ghost:hover, button.secondary:hover { border-color: var(--line); background: var(--bg); }
  button.danger { background: transparent; color: var(--bad); border-color: var(--bad); }
  button.small { padding: .15rem .55rem; font-size: .85rem; }
  button:disabled { cursor: default; opacity: .6; }
  input, select { font: inherit; padding: .4rem .55rem; border-radius: 6px; border: 1px solid var(--muted); background: var(--bg); color: var(--fg); min-width: 0; }
  label { display: inline-flex; flex-direction: column; gap: .2rem; font-size: .9rem; color: var(--fg); }
  label.check { flex-direction: row; align-items: center; gap: .45rem; margin: 0 0 .25rem; }
  label.check input { width: 1rem; height: 1rem; margin: 0; accent-color: var(--link); }
  .keyname { display: inline-block; max-width: 16rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: top; }
  .stack { display: flex; flex-direction: column; gap: .4rem; max-width: 28rem; }
  .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin-top: .75rem; }
  .row.end { justify-content: flex-end; }
  .inline-form, .toolbar { display: flex; gap: .75rem; align-items: flex-end; flex-wrap: wrap; }
  .signin { max-width: 32rem; margin: 3rem auto; padding: 2rem; border: 1px solid var(--line); border-radius: 12px; }
  .signin .stack { max-width: none; }

  .table-wrap { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0; font-size: .9rem; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  thead th { font-weight: 600; color: var(--muted); white-space: nowrap; border-bottom-width: 2px; }
  tbody th { font-weight: 600; }
  tbody tr:hover { background: var(--row); }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  td.actions { white-space: nowrap; text-align: right; }
  td.actions button + button { margin-left: .35rem; }
  .err-cell { max-width: 22rem; overflow-wrap: anywhere; }
  code, pre { font: .85rem/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  .badge { display: inline-flex; align-items: center; gap: .35rem; white-space: nowrap; }
  .badge::before { content: ""; width: .6rem; height: .6rem; border-radius: 50%; background: var(--muted); flex: none; }
  .badge.ok::before { background: var(--ok); }
  .badge.bad::before { background: var(--bad); }
  .badge.warn::before { background: var(--warn); }
  .sub { display: block; color: var(--muted); font-size: .8rem; font-weight: 400; }
  td code { white-space: nowrap; }
  ul.limits { list-style: none; margin: 0; padding: 0; white-space: nowrap; }
  th button.sort { border: 0; padding: .1rem .2rem; color: inherit; font-weight: 600; display: inline-flex; gap: .25rem; }
  th.num button.sort { margin-left: auto; }
  .arrow:empty { display: none; }

  .totals { font-size: 1rem; margin: .75rem 0; }
  .totals strong { font-size: 1.25rem; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(24rem, 1fr)); gap: 1rem; }
  figure.chart { margin: 0; padding: .75rem; border: 1px solid var(--line); border-radius: 10px; }
  figcaption { font-weight: 600; margin-bottom: .25rem; }
  .chart svg { width: 100%; height: auto; display: block; }
  .chart text { fill: var(--muted); font: 12px system-ui, sans-serif; }
  .chart .gridline { stroke: var(--grid); stroke-width: 1; }
  .chart .axis { stroke: var(--muted); stroke-width: 1; }
  .s0 { fill: var(--c0); background: var(--c0); } .s1 { fill: var(--c1); background: var(--c1); }
  .s2 { fill: var(--c2); background: var(--c2); } .s3 { fill: var(--c3); background: var(--c3); }
  .s4 { fill: var(--c4); background: var(--c4); } .s5 { fill: var(--c5); background: var(--c5); }
  .s6 { fill: var(--c6); background: var(--c6); } .s7 { fill: var(--c7); background: var(--c7); }
  .legend { list-style: none; display: flex; flex-wrap: wrap; gap: .35rem 1.25rem; padding: 0; margin: .75rem 0; font-size: .9rem; }
  .legend li { display: inline-flex; align-items: center; gap: .4rem; }
  .swatch { width: .85rem; height: .85rem; border-radius: 3px; display: inline-block; }
  details.daily { margin: .5rem 0; }
  details.daily summary { cursor: pointer; color: var(--link); width: max-content; }
  details.daily table { max-width: 28rem; }

  dialog { border: 1px solid var(--line); border-radius: 12px; padding: 1.25rem 1.5rem; background: var(--bg); color: var(--fg); width: min(32rem, 94vw); }
  dialog.wide { width: min(46rem, 94vw); }
  dialog::backdrop { background: var(--backdrop); }
  dialog h2 { margin-top: 0; }
  .limit-grid { display: grid; grid-template-columns: 1fr 10rem; gap: .5rem .75rem; align-items: center; margin: .75rem 0; }
  .limit-grid label { display: block; }
  .copy-block { margin: .9rem 0; }
  .copy-head { display: flex; align-items: center; justify-content: space-between; gap: .75rem; margin-bottom: .35rem; }
  .copy-head h3 { margin: 0; }
  pre.secret.key { font-size: .95rem; font-weight: 600; }
  pre.secret { margin: 0; padding: .6rem .75rem; border-radius: 6px; background: var(--panel); border: 1px solid var(--line); white-space: pre-wrap; overflow-wrap: anywhere; }
`;
