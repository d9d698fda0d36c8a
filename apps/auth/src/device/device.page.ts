/**
 * The /auth/device page: one self-contained document (no external fonts or scripts, for
 * air-gapped clusters). Its script and style run under a per-request CSP nonce. The base URL it
 * shows is the page's own origin, i.e. the scheme and host the person reached us by.
 */
export function devicePage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Copilot Gateway — sign in</title>
<style nonce="${nonce}">
  :root { color-scheme: light dark; --accent: #2f81f7; --muted: #8b949e; --ok: #3fb950; --bad: #f85149; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "PingFang SC", "Microsoft YaHei", sans-serif; display: grid; place-items: center; min-height: 100vh; }
  main { width: min(34rem, 92vw); padding: 2rem; border: 1px solid #8b949e55; border-radius: 12px; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  p { margin: .5rem 0; }
  .muted { color: var(--muted); font-size: .9rem; }
  .lang { float: right; }
  button, .button { font: inherit; padding: .55rem 1rem; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
  button.secondary { background: transparent; color: var(--accent); }
  .code { font: 700 2.4rem/1.2 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; letter-spacing: .12em; margin: 1rem 0; }
  .secret { font: .95rem ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; padding: .6rem; border-radius: 6px; background: #8b949e22; margin: .3rem 0; }
  .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin: .75rem 0; }
  .error { color: var(--bad); }
  .success { color: var(--ok); }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<main>
  <button class="secondary lang" id="lang" type="button">中文</button>
  <h1 data-t="title"></h1>
  <p class="muted" data-t="intro"></p>

  <section id="step-start">
    <p class="muted" data-t="tos"></p>
    <button id="start" type="button" data-t="start"></button>
  </section>

  <section id="step-code" hidden>
    <p data-t="enter"></p>
    <div class="code" id="user-code"></div>
    <div class="row">
      <button id="copy-code" type="button" class="secondary" data-t="copy"></button>
      <a id="open-github" class="button" target="_blank" rel="noopener" data-t="open"></a>
    </div>
    <p class="muted" id="waiting" data-t="waiting"></p>
  </section>

  <section id="step-key" hidden>
    <p class="success" data-t="done"></p>
    <p data-t="key"></p>
    <div class="secret" id="api-key"></div>
    <div class="row"><button id="copy-key" type="button" data-t="copy"></button></div>
    <p data-t="base"></p>
    <div class="secret" id="base-url"></div>
    <div class="row"><button id="copy-base" type="button" class="secondary" data-t="copy"></button></div>
    <p class="muted" data-t="once"></p>
  </section>

  <p class="error" id="error" role="alert" hidden></p>
</main>
<script nonce="${nonce}">
(() => {
  const T = {
    en: {
      title: 'Sign in to Copilot Gateway',
      intro: 'Authorize your own GitHub account once and get an API key for any OpenAI client.',
      tos: 'One key belongs to one GitHub account: sharing a Copilot seat breaks GitHub\\'s terms.',
      start: 'Sign in with GitHub', enter: 'Enter this code on GitHub:', copy: 'Copy', copied: 'Copied',
      open: 'Open GitHub', waiting: 'Waiting for you to approve on GitHub…',
      done: 'Done. You are signed in as {user}.', key: 'Your API key:',
      base: 'Base URL for OpenAI clients:', once: 'The key is shown only this once. Keep it somewhere safe.',
      expired: 'The code expired. Start again.', denied: 'The authorization was denied on GitHub.',
      failed: 'Something went wrong: {msg}', again: 'Start again', lang: 'English'
    },
    zh: {
      title: '登录 Copilot Gateway',
      intro: '用你自己的 GitHub 账号授权一次，即可获得适用于任何 OpenAI 客户端的 API 密钥。',
      tos: '一个密钥只对应一个 GitHub 账号：共享 Copilot 席位违反 GitHub 条款。',
      start: '使用 GitHub 登录', enter: '在 GitHub 上输入此代码：', copy: '复制', copied: '已复制',
      open: '打开 GitHub', waiting: '等待你在 GitHub 上确认授权…',
      done: '完成。你已作为 {user} 登录。', key: '你的 API 密钥：',
      base: 'OpenAI 客户端的 Base URL：', once: '密钥只显示这一次，请妥善保存。',
      expired: '代码已过期，请重新开始。', denied: '授权在 GitHub 上被拒绝。',
      failed: '出错了：{msg}', again: '重新开始', lang: '中文'
    }
  };
  const $ = (id) => document.getElementById(id);
  let lang = (localStorage.getItem('cgw-lang') || (navigator.language || 'en')).toLowerCase().startsWith('zh') ? 'zh' : 'en';
  let user = '';
  const t = (k, vars = {}) => T[lang][k].replace(/\\{(\\w+)\\}/g, (_, v) => vars[v] ?? '');
  function render() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t, { user });
    $('lang').textContent = lang === 'zh' ? T.en.lang : T.zh.lang;
  }
  $('lang').onclick = () => { lang = lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('cgw-lang', lang); render(); };
  function showError(text) { const e = $('error'); e.textContent = text; e.hidden = false; $('step-start').hidden = false; $('start').textContent = t('again'); }
  function copy(button, text) {
    navigator.clipboard.writeText(text).then(() => { button.textContent = t('copied'); setTimeout(() => (button.textContent = t('copy')), 1500); }, () => {});
  }
  async function call(url, init = {}) {
    // A request the network lost is not left hanging: it fails after 30 s, and a poll is retried.
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30000) });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { const err = new Error(body.error?.message || res.statusText); err.status = res.status; err.code = body.error?.code; throw err; }
    return body;
  }
  async function poll(code, interval) {
    await new Promise((r) => setTimeout(r, Math.max(interval, 1) * 1000));
    let answer;
    try {
      answer = await call('/auth/device/poll?device_code=' + encodeURIComponent(code));
    } catch (err) {
      if (err.status === 410) return showError(t('expired'));
      if (err.code === 'access_denied') return showError(t('denied'));
      // GitHub or the network failing for a moment: the code is still good, so keep polling, slower.
      if (!err.status || err.status >= 500) return poll(code, Math.min(interval * 2, 30));
      return showError(t('failed', { msg: err.message }));
    }
    if (answer.status !== 'success') return poll(code, answer.interval);
    user = answer.username;
    $('step-code').hidden = true;
    $('step-key').hidden = false;
    $('api-key').textContent = answer.api_key;
    $('base-url').textContent = location.origin + '/v1';
    render();
  }
  $('start').onclick = async () => {
    $('error').hidden = true;
    $('start').disabled = true;
    try {
      const s = await call('/auth/device/start', { method: 'POST' });
      $('step-start').hidden = true;
      $('step-code').hidden = false;
      $('user-code').textContent = s.user_code;
      $('open-github').href = s.verification_uri_complete;
      poll(s.device_code, s.interval);
    } catch (err) {
      showError(t('failed', { msg: err.message }));
    } finally {
      $('start').disabled = false;
    }
  };
  $('copy-code').onclick = () => copy($('copy-code'), $('user-code').textContent);
  $('copy-key').onclick = () => copy($('copy-key'), $('api-key').textContent);
  $('copy-base').onclick = () => copy($('copy-base'), $('base-url').textContent);
  render();
})();
</script>
</body>
</html>`;
}
