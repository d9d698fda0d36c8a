/**
 * The admin console's script, as the browser runs it (plain JS, no build step): inlined into the
 * /admin page under its CSP nonce. Every datum comes from the admin API of design.md §4, read
 * with the admin token (sessionStorage) as the bearer; the DOM is built with textContent only.
 * Written as a raw string: no backticks and no dollar-brace sequences inside.
 */
export const CONSOLE_SCRIPT = String.raw`
(() => {
  'use strict';
  const T = {
    en: {
      admin: 'admin', navLabel: 'Console sections', accounts: 'Accounts', keys: 'Keys', usage: 'Usage', signOut: 'Sign out', lang: 'English',
      signinTitle: 'Admin console',
      signinIntro: 'Sign in with the gateway\'s admin token (ADMIN_TOKEN). It stays in this browser tab (sessionStorage) and goes to the admin API as the bearer; this page holds nothing without it.',
      tokenLabel: 'Admin token', signIn: 'Sign in', tokenMissing: 'Enter the admin token.',
      tokenChars: 'An admin token is printable ASCII without spaces.',
      signinFailed: 'Sign-in refused: {msg}', signedOut: 'Signed out: {msg}', refresh: 'Refresh',
      accountsIntro: 'The GitHub accounts whose Copilot the gateway uses. The plan and premium requests remaining are read by the token refresher.',
      noAccounts: 'No accounts yet. Import a GitHub token below, or have people sign in at /auth/device.',
      login: 'Login', status: 'Status', plan: 'Plan', premiumRemaining: 'Premium remaining', tokenExpiry: 'Copilot token expires',
      lastError: 'Last error', actions: 'Actions',
      st_active: 'Active', st_revoked: 'GitHub token revoked', st_no_subscription: 'No Copilot subscription', st_error: 'Error',
      unlimited: 'Unlimited', resets: 'resets {date}', none: 'None',
      delete: 'Delete', deleteAccountLabel: 'Delete account {login}', deleteAccountTitle: 'Delete account {login}?',
      deleteAccountText: 'Its keys ({n}) stop working at once, on every replica. This cannot be undone.',
      deleteAccount: 'Delete account', accountDeleted: 'Account {login} deleted.',
      importTitle: 'Import a GitHub token',
      importIntro: 'A GitHub user token (ghu_…, gho_…, ghp_…, github_pat_…) of an account with Copilot: it adds the account and issues its first key.',
      githubToken: 'GitHub token', import: 'Import', importMissing: 'Enter a GitHub token.', imported: 'Account {login} imported.',
      createTitle: 'Create a key', account: 'Account', name: 'Name', expires: 'Expires', never: 'Never',
      days7: 'In 7 days', days30: 'In 30 days', days90: 'In 90 days', days365: 'In a year', createKey: 'Create key',
      noAccountForKey: 'Import an account first.', allKeys: 'All keys', noKeys: 'No keys to show.',
      showEnded: 'Show revoked and expired keys ({n})',
      prefix: 'Prefix', created: 'Created', lastUsed: 'Last used', limits: 'Limits', state: 'State', unnamed: '(unnamed)',
      ks_active: 'Active', ks_rotating: 'Rotated: works until {until}', ks_revoked: 'Revoked', ks_expired: 'Expired',
      editLimits: 'Limits', editLimitsLabel: 'Limits of {name}', rotate: 'Rotate', rotateLabel: 'Rotate {name}',
      revoke: 'Revoke', revokeLabel: 'Revoke {name}', revokeTitle: 'Revoke {name}?',
      revokeText: 'Every replica refuses the key within a second; whoever uses it needs a new one.', revoked: 'Key {name} revoked.',
      limitsTitle: 'Limits of {name}',
      limitsIntro: 'A positive whole number sets a limit; an empty field means none. Every replica applies a change within a second.',
      limit_requests_per_minute: 'Requests per minute', limit_requests_per_day: 'Requests per day (UTC)',
      limit_tokens_per_day: 'Tokens per day (UTC)', limit_tokens_per_month: 'Tokens per month (UTC)',
      limit_premium_requests_per_month: 'Premium requests per month (UTC)',
      short_requests_per_minute: 'requests/min', short_requests_per_day: 'requests/day', short_tokens_per_day: 'tokens/day',
      short_tokens_per_month: 'tokens/month', short_premium_requests_per_month: 'premium/month',
      limitsSaved: 'Limits of {name} saved.', limitBad: '{field}: a positive whole number, or empty for none.',
      save: 'Save', cancel: 'Cancel',
      rotateTitle: 'Rotate {name}',
      rotateIntro: 'A new key is issued with the same name, account, expiry and limits. The old key keeps working for the grace period, then stops.',
      grace: 'Grace period for the old key', graceNone: 'None: it stops now', grace10m: '10 minutes', grace1h: '1 hour', grace1d: '1 day', grace7d: '7 days',
      rotatedNote: 'Key {name} rotated: the old key works until {until}.',
      secretTitle: 'New key', secretOnce: 'This key is shown only this once: copy it now and keep it somewhere safe.',
      apiKey: 'API key', cfgOpenai: 'OpenAI SDKs (environment variables)', cfgClaude: 'Claude Code (environment variables)',
      cfgCodex: 'Codex (~/.codex/config.toml)', copyKey: 'Copy key', copyOpenai: 'Copy OpenAI settings',
      copyClaude: 'Copy Claude Code settings', copyCodex: 'Copy Codex settings', copied: 'Copied',
      copyFailed: 'Could not copy: the text is selected, press Ctrl+C.', done: 'Done', keyCreated: 'Key {name} created.',
      stackBy: 'Stack by', stackNone: 'Nothing (totals)', stackKey: 'Key', stackModel: 'Model', exportCsv: 'Export CSV (30 days)',
      requestsPerDay: 'Requests per day, last 30 days (UTC)', tokensPerDay: 'Tokens per day (input + output), last 30 days (UTC)',
      totals: '{requests} requests and {tokens} tokens in the last 30 days', legend: 'Legend', dailyNumbers: 'Daily numbers',
      day: 'Day', requests: 'Requests', tokens: 'Tokens', premium: 'Premium requests', key: 'Key',
      monthTitle: 'Keys by premium requests this month (UTC)', noUsage: 'No usage this month.',
      all: 'All', other: 'Other', deletedKey: 'deleted key {id}',
      chartLabel: '{title}: {total} in all; busiest day {day} with {max}.', chartEmpty: '{title}: none yet.',
      network: 'The gateway did not answer (network error).', exported: 'Usage exported as CSV.'
    },
    zh: {
      admin: '管理', navLabel: '控制台分区', accounts: '账号', keys: '密钥', usage: '用量', signOut: '退出', lang: '中文',
      signinTitle: '管理控制台',
      signinIntro: '使用网关的管理令牌（ADMIN_TOKEN）登录。令牌只保存在当前浏览器标签页（sessionStorage），并作为 Bearer 发送给管理 API；没有它，本页不含任何数据。',
      tokenLabel: '管理令牌', signIn: '登录', tokenMissing: '请输入管理令牌。',
      tokenChars: '管理令牌只能包含可打印 ASCII 字符，且不含空格。',
      signinFailed: '登录被拒绝：{msg}', signedOut: '已退出：{msg}', refresh: '刷新',
      accountsIntro: '网关使用其 Copilot 的 GitHub 账号。套餐和剩余高级请求由令牌刷新任务读取。',
      noAccounts: '还没有账号。在下方导入 GitHub 令牌，或让用户在 /auth/device 登录。',
      login: '登录名', status: '状态', plan: '套餐', premiumRemaining: '剩余高级请求', tokenExpiry: 'Copilot 令牌到期',
      lastError: '最近错误', actions: '操作',
      st_active: '正常', st_revoked: 'GitHub 令牌已吊销', st_no_subscription: '无 Copilot 订阅', st_error: '错误',
      unlimited: '无限制', resets: '{date} 重置', none: '无',
      delete: '删除', deleteAccountLabel: '删除账号 {login}', deleteAccountTitle: '删除账号 {login}？',
      deleteAccountText: '它的密钥（{n} 个）会在所有副本上立即失效。此操作无法撤销。',
      deleteAccount: '删除账号', accountDeleted: '账号 {login} 已删除。',
      importTitle: '导入 GitHub 令牌',
      importIntro: '一个有 Copilot 的账号的 GitHub 用户令牌（ghu_…、gho_…、ghp_…、github_pat_…）：添加该账号并签发它的第一个密钥。',
      githubToken: 'GitHub 令牌', import: '导入', importMissing: '请输入 GitHub 令牌。', imported: '账号 {login} 已导入。',
      createTitle: '创建密钥', account: '账号', name: '名称', expires: '到期', never: '永不',
      days7: '7 天后', days30: '30 天后', days90: '90 天后', days365: '一年后', createKey: '创建密钥',
      noAccountForKey: '请先导入一个账号。', allKeys: '全部密钥', noKeys: '没有可显示的密钥。',
      showEnded: '显示已吊销和已过期的密钥（{n} 个）',
      prefix: '前缀', created: '创建时间', lastUsed: '最近使用', limits: '限额', state: '状态', unnamed: '（未命名）',
      ks_active: '有效', ks_rotating: '已轮换：{until} 前仍可用', ks_revoked: '已吊销', ks_expired: '已过期',
      editLimits: '限额', editLimitsLabel: '限额：{name}', rotate: '轮换', rotateLabel: '轮换 {name}',
      revoke: '吊销', revokeLabel: '吊销 {name}', revokeTitle: '吊销 {name}？',
      revokeText: '所有副本会在一秒内拒绝该密钥；使用它的人需要新的密钥。', revoked: '密钥 {name} 已吊销。',
      limitsTitle: '{name} 的限额',
      limitsIntro: '填写正整数设置限额；留空表示不限制。所有副本会在一秒内生效。',
      limit_requests_per_minute: '每分钟请求数', limit_requests_per_day: '每天请求数（UTC）',
      limit_tokens_per_day: '每天令牌数（UTC）', limit_tokens_per_month: '每月令牌数（UTC）',
      limit_premium_requests_per_month: '每月高级请求数（UTC）',
      short_requests_per_minute: '请求/分钟', short_requests_per_day: '请求/天', short_tokens_per_day: '令牌/天',
      short_tokens_per_month: '令牌/月', short_premium_requests_per_month: '高级请求/月',
      limitsSaved: '{name} 的限额已保存。', limitBad: '{field}：请填写正整数，或留空表示不限制。',
      save: '保存', cancel: '取消',
      rotateTitle: '轮换 {name}',
      rotateIntro: '签发一个新密钥，名称、账号、到期时间和限额都相同。旧密钥在宽限期内仍可使用，之后失效。',
      grace: '旧密钥的宽限期', graceNone: '无：立即失效', grace10m: '10 分钟', grace1h: '1 小时', grace1d: '1 天', grace7d: '7 天',
      rotatedNote: '密钥 {name} 已轮换：旧密钥在 {until} 前仍可用。',
      secretTitle: '新密钥', secretOnce: '密钥只显示这一次：请立即复制并妥善保存。',
      apiKey: 'API 密钥', cfgOpenai: 'OpenAI SDK（环境变量）', cfgClaude: 'Claude Code（环境变量）',
      cfgCodex: 'Codex（~/.codex/config.toml）', copyKey: '复制密钥', copyOpenai: '复制 OpenAI 设置',
      copyClaude: '复制 Claude Code 设置', copyCodex: '复制 Codex 设置', copied: '已复制',
      copyFailed: '无法复制：文本已选中，请按 Ctrl+C。', done: '完成', keyCreated: '密钥 {name} 已创建。',
      stackBy: '堆叠方式', stackNone: '不堆叠（合计）', stackKey: '按密钥', stackModel: '按模型', exportCsv: '导出 CSV（30 天）',
      requestsPerDay: '每天请求数，最近 30 天（UTC）', tokensPerDay: '每天令牌数（输入 + 输出），最近 30 天（UTC）',
      totals: '最近 30 天共 {requests} 次请求、{tokens} 个令牌', legend: '图例', dailyNumbers: '每日数据',
      day: '日期', requests: '请求数', tokens: '令牌数', premium: '高级请求', key: '密钥',
      monthTitle: '本月按高级请求排序的密钥（UTC）', noUsage: '本月还没有用量。',
      all: '全部', other: '其他', deletedKey: '已删除的密钥 {id}',
      chartLabel: '{title}：合计 {total}；最多的一天 {day}，{max}。', chartEmpty: '{title}：暂无数据。',
      network: '网关没有响应（网络错误）。', exported: '用量已导出为 CSV。'
    }
  };
  const LIMITS = ['requests_per_minute', 'requests_per_day', 'tokens_per_day', 'tokens_per_month', 'premium_requests_per_month'];
  const VIEWS = ['accounts', 'keys', 'usage'];
  const TOKEN_KEY = 'cgw-admin-token';
  const DAY = 86400000;
  const SVGNS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  let lang = (localStorage.getItem('cgw-lang') || navigator.language || 'en').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  const S = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    view: null, accounts: [], keys: [], daily: [], month: [], usageFrom: 0,
    stack: 'none', sort: { col: 'premium', dir: 'desc' }, pending: null, showEnded: false
  };

  const t = (k, vars) => {
    const s = T[lang][k] ?? T.en[k] ?? k;
    return vars ? s.replace(/\{(\w+)\}/g, (_, v) => String(vars[v] ?? '')) : s;
  };
  const locale = () => (lang === 'zh' ? 'zh-CN' : 'en');
  const fmtNum = (n, digits = 0) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);
  const fmtDate = (iso) => {
    if (!iso) return '—';
    const d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
  };
  const fmtDay = (ms, style) => new Intl.DateTimeFormat(locale(), style || { month: 'short', day: 'numeric', timeZone: 'UTC' }).format(new Date(ms));
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

  /** An element: props are attributes, 'text', 'class' or on* listeners; children are nodes or text. */
  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
    return el;
  }
  function sv(tag, attrs, ...kids) {
    const el = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
    for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid instanceof Node ? kid : String(kid));
    return el;
  }
  /** A translated sentence with nodes in its placeholders. */
  function sentence(key, nodes) {
    const out = [];
    const s = t(key);
    let last = 0;
    s.replace(/\{(\w+)\}/g, (m, name, at) => { out.push(s.slice(last, at), nodes[name] ?? m); last = at + m.length; return m; });
    out.push(s.slice(last));
    return out;
  }

  // ---- messages ----
  let noticeTimer = 0;
  function notice(text) {
    $('alert').textContent = '';
    $('notice').textContent = text;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => ($('notice').textContent = ''), 8000);
  }
  function alertMsg(text) {
    $('notice').textContent = '';
    $('alert').textContent = text;
  }
  function clearMessages() { $('notice').textContent = ''; $('alert').textContent = ''; }
  function showError(id, text) { const e = $(id); e.textContent = text; e.hidden = false; }
  function hideError(id) { const e = $(id); e.textContent = ''; e.hidden = true; }

  // ---- the admin API ----
  class ApiFailure extends Error {
    constructor(message, status, code) { super(message); this.status = status; this.code = code; }
  }
  /** One call to the admin API with the token as the bearer; a refusal of the token signs out, showing why. */
  async function api(method, path, body, token) {
    const headers = { authorization: 'Bearer ' + (token ?? S.token) };
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) { headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
    let res;
    try { res = await fetch(path, init); } catch { throw new ApiFailure(t('network'), 0, 'network'); }
    if (!res.ok) {
      const b = await res.json().catch(() => null);
      const failure = new ApiFailure((b && b.error && b.error.message) || (res.status + ' ' + res.statusText), res.status, (b && b.error && b.error.code) || null);
      const tokenRefused = res.status === 401 || (res.status === 404 && failure.code === 'unknown_route');
      if (tokenRefused && token === undefined) signOut(t('signedOut', { msg: failure.message }));
      throw failure;
    }
    if (res.status === 204) return null;
    return (res.headers.get('content-type') || '').includes('json') ? res.json() : res.text();
  }

  // ---- sign-in ----
  function signOut(reason) {
    S.token = '';
    S.accounts = []; S.keys = []; S.daily = []; S.month = [];
    sessionStorage.removeItem(TOKEN_KEY);
    for (const d of document.querySelectorAll('dialog[open]')) d.close();
    clearMessages();
    for (const id of ['accounts-body', 'keys-body', 'daily-body', 'month-body', 'chart-requests', 'chart-tokens', 'legend', 'usage-totals']) $(id).replaceChildren();
    if (reason) showError('signin-error', reason); else hideError('signin-error');
    route(false);
    $('token').focus();
  }
  $('signin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = $('token').value.trim();
    hideError('signin-error');
    if (!token) return showError('signin-error', t('tokenMissing'));
    if (!/^[\x21-\x7e]+$/.test(token)) return showError('signin-error', t('tokenChars'));
    try {
      const accounts = await api('GET', '/auth/accounts', undefined, token);
      S.token = token;
      S.accounts = accounts.data;
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token').value = '';
      route(true);
    } catch (err) {
      showError('signin-error', t('signinFailed', { msg: err.message }));
      $('token').select();
    }
  });
  $('signout').addEventListener('click', () => signOut(null));

  // ---- routing ----
  const currentView = () => { const v = location.hash.slice(1); return VIEWS.includes(v) ? v : 'accounts'; };
  function route(focus) {
    const signedIn = !!S.token;
    $('nav').hidden = !signedIn;
    $('signout').hidden = !signedIn;
    $('view-signin').hidden = signedIn;
    const view = signedIn ? currentView() : null;
    S.view = view;
    for (const v of VIEWS) $('view-' + v).hidden = v !== view;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.getAttribute('href') === '#' + view) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    document.title = (view ? t(view) + ' — ' : '') + 'Copilot Gateway ' + t('admin');
    if (!view) return;
    if (focus) $(view + '-title').focus();
    load();
  }
  window.addEventListener('hashchange', () => { clearMessages(); route(true); });

  let loadSeq = 0;
  /** Reads what the current view shows; the view is aria-busy meanwhile. */
  async function load() {
    const view = S.view;
    if (!view) return;
    const seq = ++loadSeq;
    const section = $('view-' + view);
    section.setAttribute('aria-busy', 'true');
    try {
      const [accounts, keys] = await Promise.all([api('GET', '/auth/accounts'), api('GET', '/auth/keys')]);
      let usage = null;
      if (view === 'usage') usage = await loadUsage();
      if (seq !== loadSeq) return;
      S.accounts = accounts.data;
      S.keys = keys.data;
      if (usage) Object.assign(S, usage);
      render();
    } catch (err) {
      if (seq === loadSeq && S.token) alertMsg(err.message);
    } finally {
      if (seq === loadSeq) {
        section.setAttribute('aria-busy', 'false');
        section.dataset.loads = String(Number(section.dataset.loads || 0) + 1);
      }
    }
  }
  const dayStart = (ms) => Math.floor(ms / DAY) * DAY;
  const monthStart = () => { const n = new Date(); return Date.UTC(n.getUTCFullYear(), n.getUTCMonth(), 1); };
  async function loadUsage() {
    const usageFrom = dayStart(Date.now()) - 29 * DAY;
    const [daily, month] = await Promise.all([
      api('GET', '/auth/usage?' + new URLSearchParams({ group_by: 'key,model', bucket: 'day', from: new Date(usageFrom).toISOString() })),
      api('GET', '/auth/usage?' + new URLSearchParams({ group_by: 'key', from: new Date(monthStart()).toISOString() }))
    ]);
    return { usageFrom, daily: daily.data, month: month.data };
  }
  for (const b of document.querySelectorAll('button.refresh')) b.addEventListener('click', () => { clearMessages(); load(); });

  /** After an action the button that started it may be gone (the table is drawn again): focus the heading. */
  function refocus() {
    if (!document.activeElement || document.activeElement === document.body) { const h1 = S.view && $(S.view + '-title'); if (h1) h1.focus(); }
  }

  // ---- rendering ----
  function applyStatic() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
    for (const el of document.querySelectorAll('[data-t-label]')) el.setAttribute('aria-label', t(el.dataset.tLabel));
    const other = lang === 'zh' ? 'en' : 'zh';
    $('lang').textContent = T[other].lang;
    $('lang').setAttribute('lang', other === 'zh' ? 'zh-CN' : 'en');
  }
  function render() {
    renderAccounts();
    renderKeys();
    if (S.view === 'usage') renderUsage();
  }
  const accountOf = (id) => S.accounts.find((a) => a.id === id);
  const keyLabel = (k) => k.name || t('unnamed');
  function badge(kind, text) { return h('span', { class: 'badge ' + kind }, text); }
  function dateCell(iso, empty) { return iso ? h('time', { datetime: iso }, fmtDate(iso)) : (empty || '—'); }

  function renderAccounts() {
    const body = $('accounts-body');
    body.replaceChildren();
    $('accounts-empty').hidden = S.accounts.length > 0;
    $('accounts-table').hidden = S.accounts.length === 0;
    for (const a of S.accounts) {
      const kind = a.status === 'active' ? 'ok' : a.status === 'error' ? 'warn' : 'bad';
      let premium = '—';
      if (a.premium_unlimited) premium = t('unlimited');
      else if (a.premium_remaining !== null && a.premium_remaining !== undefined)
        premium = fmtNum(a.premium_remaining, 2) + (a.premium_entitlement ? ' / ' + fmtNum(a.premium_entitlement, 2) : '');
      body.append(h('tr', { 'data-id': a.id },
        h('th', { scope: 'row' }, a.login),
        h('td', {}, badge(kind, t('st_' + a.status))),
        h('td', {}, a.plan || '—'),
        h('td', { class: 'num' }, premium, a.quota_reset_at ? h('span', { class: 'sub' }, t('resets', { date: fmtDay(Date.parse(a.quota_reset_at), { dateStyle: 'medium', timeZone: 'UTC' }) })) : null),
        h('td', {}, dateCell(a.copilot_token_expires_at)),
        h('td', { class: 'err-cell' }, a.last_error || '—'),
        h('td', { class: 'actions' }, h('button', { type: 'button', class: 'danger small', 'aria-label': t('deleteAccountLabel', { login: a.login }), onclick: () => askDeleteAccount(a) }, t('delete')))
      ));
    }
    // The create form's account list follows the accounts.
    const select = $('create-account');
    const chosen = select.value;
    select.replaceChildren(...S.accounts.map((a) => h('option', { value: a.id }, a.login + (a.status === 'active' ? '' : ' (' + t('st_' + a.status) + ')'))));
    if (S.accounts.some((a) => a.id === chosen)) select.value = chosen;
  }

  function keyState(k) {
    const now = Date.now();
    if (k.revoked_at) return Date.parse(k.revoked_at) <= now ? 'revoked' : 'rotating';
    if (k.expires_at && Date.parse(k.expires_at) <= now) return 'expired';
    return 'active';
  }
  function renderKeys() {
    const body = $('keys-body');
    body.replaceChildren();
    const ended = (k) => keyState(k) === 'revoked' || keyState(k) === 'expired';
    $('show-ended-label').textContent = t('showEnded', { n: S.keys.filter(ended).length });
    const shown = S.keys.filter((k) => S.showEnded || !ended(k));
    $('keys-empty').hidden = shown.length > 0;
    $('keys-table').hidden = shown.length === 0;
    const order = { active: 0, rotating: 1, expired: 2, revoked: 3 };
    const keys = shown.sort((a, b) => order[keyState(a)] - order[keyState(b)] || (b.created_at < a.created_at ? -1 : b.created_at > a.created_at ? 1 : 0));
    for (const k of keys) {
      const state = keyState(k);
      const account = accountOf(k.account_id);
      const set = LIMITS.filter((n) => k.limits && k.limits[n] !== null && k.limits[n] !== undefined);
      const limits = set.length ? h('ul', { class: 'limits' }, set.map((n) => h('li', {}, t('short_' + n) + ' ' + fmtNum(k.limits[n])))) : t('none');
      const stateText = state === 'rotating' ? t('ks_rotating', { until: fmtDate(k.revoked_at) }) : t('ks_' + state);
      const name = keyLabel(k);
      const actions = [];
      if (state === 'active' || state === 'rotating')
        actions.push(h('button', { type: 'button', class: 'secondary small', 'aria-label': t('editLimitsLabel', { name }), onclick: () => openLimits(k) }, t('editLimits')));
      if (state === 'active')
        actions.push(h('button', { type: 'button', class: 'secondary small', 'aria-label': t('rotateLabel', { name }), onclick: () => openRotate(k) }, t('rotate')));
      if (state === 'active' || state === 'rotating')
        actions.push(h('button', { type: 'button', class: 'danger small', 'aria-label': t('revokeLabel', { name }), onclick: () => askRevoke(k) }, t('revoke')));
      body.append(h('tr', { 'data-id': k.id, 'data-state': state },
        h('th', { scope: 'row' }, h('span', { class: 'keyname', title: name.length > 30 ? name : null }, name)),
        h('td', {}, account ? account.login : k.account_id),
        h('td', {}, h('code', {}, k.prefix + '…')),
        h('td', {}, dateCell(k.created_at)),
        h('td', {}, dateCell(k.last_used_at, t('never'))),
        h('td', {}, dateCell(k.expires_at, t('never'))),
        h('td', {}, limits),
        h('td', {}, badge(state === 'active' ? 'ok' : state === 'rotating' ? 'warn' : 'bad', stateText)),
        h('td', { class: 'actions' }, actions)
      ));
    }
  }

  /** The 30 daily totals per series ('' when not stacked), series ordered by their total. */
  function series(field) {
    const days = Array.from({ length: 30 }, (_, i) => S.usageFrom + i * DAY);
    const index = new Map(days.map((d, i) => [isoDay(d), i]));
    const by = new Map();
    for (const r of S.daily) {
      const i = index.get(String(r.bucket_start).slice(0, 10));
      if (i === undefined) continue;
      const id = S.stack === 'key' ? r.key_id : S.stack === 'model' ? r.model : '';
      if (!by.has(id)) by.set(id, new Array(30).fill(0));
      by.get(id)[i] += field === 'requests' ? r.requests : r.input_tokens + r.output_tokens;
    }
    return { days, list: [...by.entries()].map(([id, values]) => ({ id, values, total: values.reduce((a, b) => a + b, 0) })) };
  }
  function seriesName(id) {
    if (S.stack === 'none') return t('all');
    if (S.stack === 'model') return id || '—';
    const k = S.keys.find((x) => x.id === id);
    return k ? keyLabel(k) + ' (' + k.prefix + '…)' : t('deletedKey', { id });
  }
  /** At most 8 series: the 7 largest by requests, the rest as Other; the same order and colours in both charts. */
  function seriesPlan() {
    const req = series('requests').list.sort((a, b) => b.total - a.total || (a.id < b.id ? -1 : 1));
    const top = req.length > 8 ? req.slice(0, 7).map((s) => s.id) : req.map((s) => s.id);
    return { ids: top, other: req.length > 8 };
  }
  function stacked(field, plan) {
    const { days, list } = series(field);
    const out = plan.ids.map((id, i) => ({ id, name: seriesName(id), cls: 's' + i, values: new Array(30).fill(0) }));
    const other = { id: '\u0000other', name: t('other'), cls: 's7', values: new Array(30).fill(0) };
    for (const s of list) {
      const target = out.find((o) => o.id === s.id) || other;
      s.values.forEach((v, i) => (target.values[i] += v));
    }
    if (plan.other) out.push(other);
    return { days, series: out };
  }
  function niceStep(raw, integer) {
    if (raw <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const m = raw / p;
    const step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    return integer ? Math.max(1, Math.round(step)) : step;
  }
  function drawChart(target, title, data, field) {
    const W = 560, H = 220, L = 44, R = 8, TOP = 10, B = 26;
    const plotW = W - L - R, plotH = H - TOP - B;
    const totals = data.days.map((_, i) => data.series.reduce((a, s) => a + s.values[i], 0));
    const max = Math.max(0, ...totals);
    const step = niceStep(max / 4, true);
    const top = Math.max(step, Math.ceil(max / step) * step);
    const y = (v) => TOP + plotH - (v / top) * plotH;
    const band = plotW / data.days.length;
    const compact = new Intl.NumberFormat(locale(), { notation: 'compact', maximumFractionDigits: 1 });
    const sum = totals.reduce((a, b) => a + b, 0);
    const busiest = totals.indexOf(max);
    const label = sum ? t('chartLabel', { title, total: fmtNum(sum), day: fmtDay(data.days[busiest]), max: fmtNum(max) }) : t('chartEmpty', { title });
    const svg = sv('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': label, 'data-total': sum, 'data-field': field, preserveAspectRatio: 'xMidYMid meet' });
    for (let v = 0; v <= top + 1e-9; v += step) {
      svg.append(sv('line', { class: 'gridline', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      svg.append(sv('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, compact.format(v)));
    }
    data.days.forEach((d, i) => {
      const x = L + i * band + band * 0.15;
      let base = 0;
      for (const s of data.series) {
        const v = s.values[i];
        if (!v) continue;
        const rect = sv('rect', { class: 'bar ' + s.cls, x: x.toFixed(2), width: (band * 0.7).toFixed(2), y: y(base + v).toFixed(2), height: Math.max(1, y(base) - y(base + v)).toFixed(2), 'data-day': isoDay(d), 'data-series': s.name, 'data-value': v },
          sv('title', {}, fmtDay(d) + ' · ' + s.name + ': ' + fmtNum(v)));
        svg.append(rect);
        base += v;
      }
      // A date every five days back from today, today's kept inside the frame.
      if ((data.days.length - 1 - i) % 5 === 0) {
        const last = i === data.days.length - 1;
        svg.append(sv('text', { x: (last ? L + (i + 0.85) * band : L + i * band + band / 2).toFixed(2), y: H - 8, 'text-anchor': last ? 'end' : 'middle' }, fmtDay(d)));
      }
    });
    svg.append(sv('line', { class: 'axis', x1: L, x2: W - R, y1: y(0), y2: y(0) }));
    target.replaceChildren(svg);
  }

  function renderUsage() {
    if (!S.usageFrom) return;
    const plan = seriesPlan();
    const req = stacked('requests', plan);
    const tok = stacked('tokens', plan);
    drawChart($('chart-requests'), t('requestsPerDay'), req, 'requests');
    drawChart($('chart-tokens'), t('tokensPerDay'), tok, 'tokens');
    const reqTotal = req.series.reduce((a, s) => a + s.values.reduce((x, y) => x + y, 0), 0);
    const tokTotal = tok.series.reduce((a, s) => a + s.values.reduce((x, y) => x + y, 0), 0);
    $('usage-totals').replaceChildren(...sentence('totals', {
      requests: h('strong', { id: 'total-requests', 'data-value': reqTotal }, fmtNum(reqTotal)),
      tokens: h('strong', { id: 'total-tokens', 'data-value': tokTotal }, fmtNum(tokTotal))
    }));
    const legend = req.series.length ? req.series : [{ name: t('all'), cls: 's0', values: [] }];
    $('legend').replaceChildren(...legend.map((s) => h('li', {}, h('span', { class: 'swatch ' + s.cls, 'aria-hidden': 'true' }), s.name)));
    $('daily-body').replaceChildren(...req.days.map((d, i) => h('tr', {},
      h('th', { scope: 'row' }, fmtDay(d, { dateStyle: 'medium', timeZone: 'UTC' })),
      h('td', { class: 'num' }, fmtNum(req.series.reduce((a, s) => a + s.values[i], 0))),
      h('td', { class: 'num' }, fmtNum(tok.series.reduce((a, s) => a + s.values[i], 0)))
    )).reverse());
    renderMonth();
  }

  function renderMonth() {
    const rows = new Map();
    for (const r of S.month) rows.set(r.key_id, { id: r.key_id, requests: r.requests, tokens: r.input_tokens + r.output_tokens, premium: r.premium_requests });
    for (const k of S.keys) if (!rows.has(k.id) && keyState(k) === 'active') rows.set(k.id, { id: k.id, requests: 0, tokens: 0, premium: 0 });
    const list = [...rows.values()].map((r) => {
      const k = S.keys.find((x) => x.id === r.id);
      const a = k && accountOf(k.account_id);
      return { ...r, key: k ? keyLabel(k) : t('deletedKey', { id: r.id }), prefix: k ? k.prefix : '', account: a ? a.login : (k ? k.account_id : '—') };
    });
    const { col, dir } = S.sort;
    const sign = dir === 'asc' ? 1 : -1;
    list.sort((a, b) => {
      const x = a[col], y = b[col];
      const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y), locale());
      return sign * c || a.key.localeCompare(b.key, locale());
    });
    $('month-empty').hidden = list.length > 0;
    $('month-table').hidden = list.length === 0;
    $('month-body').replaceChildren(...list.map((r) => h('tr', { 'data-id': r.id },
      h('th', { scope: 'row' }, r.key, r.prefix ? h('span', { class: 'sub' }, r.prefix + '…') : null),
      h('td', {}, r.account),
      h('td', { class: 'num' }, fmtNum(r.requests)),
      h('td', { class: 'num' }, fmtNum(r.tokens)),
      h('td', { class: 'num' }, fmtNum(r.premium, 2))
    )));
    for (const th of document.querySelectorAll('#month-table th[data-col]')) {
      const on = th.dataset.col === col;
      if (on) th.setAttribute('aria-sort', dir === 'asc' ? 'ascending' : 'descending'); else th.removeAttribute('aria-sort');
      th.querySelector('.arrow').textContent = on ? (dir === 'asc' ? '▲' : '▼') : '';
    }
  }
  for (const b of document.querySelectorAll('#month-table button.sort')) {
    b.addEventListener('click', () => {
      const col = b.dataset.sort;
      if (S.sort.col === col) S.sort.dir = S.sort.dir === 'asc' ? 'desc' : 'asc';
      else S.sort = { col, dir: col === 'key' || col === 'account' ? 'asc' : 'desc' };
      renderMonth();
    });
  }
  $('show-ended').addEventListener('change', () => { S.showEnded = $('show-ended').checked; renderKeys(); });
  $('stack').addEventListener('change', () => { S.stack = $('stack').value; renderUsage(); });
  $('export').addEventListener('click', async () => {
    const from = S.usageFrom || dayStart(Date.now()) - 29 * DAY;
    try {
      const csv = await api('GET', '/auth/usage?' + new URLSearchParams({ group_by: 'key,model', bucket: 'day', from: new Date(from).toISOString(), format: 'csv' }));
      const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
      const a = h('a', { href: url, download: 'usage-' + isoDay(from) + '-' + isoDay(Date.now()) + '.csv', hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      notice(t('exported'));
    } catch (err) {
      if (S.token) alertMsg(err.message);
    }
  });

  // ---- dialogs and actions ----
  function openDialog(id) { const d = $(id); if (!d.open) d.showModal(); }
  function askConfirm(title, text, action, run) {
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = action;
    S.pending = run;
    openDialog('confirm-dialog');
    $('confirm-cancel').focus();
  }
  $('confirm-cancel').addEventListener('click', () => $('confirm-dialog').close());
  $('confirm-dialog').addEventListener('close', () => { S.pending = null; });
  $('confirm-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const run = S.pending;
    $('confirm-dialog').close();
    if (run) await run();
  });

  function askDeleteAccount(a) {
    const n = S.keys.filter((k) => k.account_id === a.id && keyState(k) !== 'revoked' && keyState(k) !== 'expired').length;
    askConfirm(t('deleteAccountTitle', { login: a.login }), t('deleteAccountText', { n }), t('deleteAccount'), async () => {
      try {
        await api('DELETE', '/auth/accounts/' + encodeURIComponent(a.id));
        notice(t('accountDeleted', { login: a.login }));
      } catch (err) { if (S.token) alertMsg(err.message); }
      await load();
      refocus();
    });
  }
  function askRevoke(k) {
    const name = keyLabel(k);
    askConfirm(t('revokeTitle', { name }), t('revokeText'), t('revoke'), async () => {
      try {
        await api('DELETE', '/auth/keys/' + encodeURIComponent(k.id));
        notice(t('revoked', { name }));
      } catch (err) { if (S.token) alertMsg(err.message); }
      await load();
      refocus();
    });
  }

  function openLimits(k) {
    S.limitsKey = k;
    $('limits-title').textContent = t('limitsTitle', { name: keyLabel(k) });
    for (const n of LIMITS) { const v = k.limits ? k.limits[n] : null; $('limit-' + n).value = v === null || v === undefined ? '' : String(v); }
    hideError('limits-error');
    openDialog('limits-dialog');
  }
  $('limits-cancel').addEventListener('click', () => $('limits-dialog').close());
  $('limits-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const k = S.limitsKey;
    const limits = {};
    for (const n of LIMITS) $('limit-' + n).removeAttribute('aria-invalid');
    for (const n of LIMITS) {
      const raw = $('limit-' + n).value.trim();
      if (raw === '') { limits[n] = null; continue; }
      const v = Number(raw);
      if (!Number.isSafeInteger(v) || v < 1) {
        showError('limits-error', t('limitBad', { field: t('limit_' + n) }));
        $('limit-' + n).setAttribute('aria-invalid', 'true');
        $('limit-' + n).focus();
        return;
      }
      limits[n] = v;
    }
    try {
      await api('PATCH', '/auth/keys/' + encodeURIComponent(k.id), { limits });
      $('limits-dialog').close();
      notice(t('limitsSaved', { name: keyLabel(k) }));
      await load();
      refocus();
    } catch (err) {
      if (S.token) showError('limits-error', err.message);
    }
  });

  function openRotate(k) {
    S.rotateKey = k;
    $('rotate-title').textContent = t('rotateTitle', { name: keyLabel(k) });
    hideError('rotate-error');
    openDialog('rotate-dialog');
  }
  $('rotate-cancel').addEventListener('click', () => $('rotate-dialog').close());
  $('rotate-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const k = S.rotateKey;
    try {
      const r = await api('POST', '/auth/keys/' + encodeURIComponent(k.id) + '/rotate', { grace_seconds: Number($('rotate-grace').value) });
      $('rotate-dialog').close();
      const note = t('rotatedNote', { name: keyLabel(k), until: fmtDate(r.old_key_expires_at) });
      notice(note);
      showSecret(r.key, note);
      load();
    } catch (err) {
      if (S.token) showError('rotate-error', err.message);
    }
  });

  $('create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const accountId = $('create-account').value;
    if (!accountId) return alertMsg(t('noAccountForKey'));
    const name = $('create-name').value.trim();
    const expiry = $('create-expiry').value;
    const body = { account_id: accountId };
    if (name) body.name = name;
    if (expiry) body.expires_in = Number(expiry);
    try {
      const issued = await api('POST', '/auth/keys', body);
      $('create-name').value = '';
      notice(t('keyCreated', { name: issued.name || t('unnamed') }));
      showSecret(issued.key, '');
      load();
    } catch (err) {
      if (S.token) alertMsg(err.message);
    }
  });

  $('import-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = $('import-token').value.trim();
    if (!token) { alertMsg(t('importMissing')); $('import-token').focus(); return; }
    try {
      const r = await api('POST', '/auth/accounts', { github_token: token });
      $('import-token').value = '';
      notice(t('imported', { login: r.account.login }));
      showSecret(r.key.key, t('imported', { login: r.account.login }));
      load();
    } catch (err) {
      if (S.token) alertMsg(err.message);
    }
  });

  /** The key, shown once, with what each client needs; the dialog forgets it when closed. */
  function showSecret(key, note) {
    const origin = location.origin;
    $('secret-key').textContent = key;
    $('cfg-openai').textContent = 'OPENAI_BASE_URL=' + origin + '/v1\nOPENAI_API_KEY=' + key;
    $('cfg-claude').textContent = 'export ANTHROPIC_BASE_URL=' + origin + '\nexport ANTHROPIC_AUTH_TOKEN=' + key + '\nexport ANTHROPIC_MODEL=claude-sonnet-4';
    $('cfg-codex').textContent = [
      'model = "gpt-5-codex"',
      'model_provider = "copilot-gateway"',
      '',
      '[model_providers.copilot-gateway]',
      'name = "Copilot Gateway"',
      'base_url = "' + origin + '/v1"',
      'env_key = "CGW_KEY"',
      'wire_api = "responses"',
      '',
      '# and in the shell: export CGW_KEY=' + key
    ].join('\n');
    $('secret-note').textContent = note || '';
    $('secret-note').hidden = !note;
    openDialog('secret-dialog');
    $('secret-done').focus();
  }
  const forgetSecret = () => { for (const id of ['secret-key', 'cfg-openai', 'cfg-claude', 'cfg-codex']) $(id).textContent = ''; };
  $('secret-done').addEventListener('click', () => { forgetSecret(); $('secret-dialog').close(); });
  $('secret-dialog').addEventListener('close', () => { forgetSecret(); refocus(); });
  for (const b of document.querySelectorAll('button[data-copy]')) {
    b.addEventListener('click', () => {
      const source = $(b.dataset.copy);
      const done = () => { b.textContent = t('copied'); setTimeout(() => (b.textContent = t(b.dataset.t)), 1500); };
      const failed = () => { const r = document.createRange(); r.selectNodeContents(source); const s = getSelection(); s.removeAllRanges(); s.addRange(r); notice(t('copyFailed')); };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(source.textContent).then(done, failed); else failed();
    });
  }

  $('lang').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('cgw-lang', lang);
    applyStatic();
    document.title = (S.view ? t(S.view) + ' — ' : '') + 'Copilot Gateway ' + t('admin');
    if (S.token) render();
  });

  applyStatic();
  route(false);
})();
`;
