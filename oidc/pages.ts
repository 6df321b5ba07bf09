const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The login page of an interaction. It loads the browser signer script, which
 * fetches a challenge, has the certificate holder sign it and posts the result.
 */
export function loginPage(options: { uid: string; clientName: string; prompt: string }): string {
  const uid = escapeHtml(options.uid);
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 ${escapeHtml(options.clientName)} / Sign in</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<main id="login" data-uid="${uid}" data-client="${escapeHtml(options.clientName)}">
<h1>登录到 ${escapeHtml(options.clientName)}</h1>
<p>请使用已绑定的企业数字证书登录。/ Sign in with a certificate bound to your enterprise.</p>
<noscript>此页面需要启用 JavaScript。/ This page needs JavaScript.</noscript>
</main>
<script type="module" src="/static/login.js"></script>
</body>
</html>`;
}
