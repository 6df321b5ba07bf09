const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface LoginPageOptions {
  uid: string;
  clientName: string;
  /** enterprise: platforms and the portal; operator: the admin console. */
  audience: 'enterprise' | 'operator';
  /** Whether the certificate option is offered. */
  certificate: boolean;
  /** Whether the passkey option is offered (not when the platform requires certificate-level assurance). */
  passkey: boolean;
  /** The platform requested certificate-level assurance, so the page explains why passkeys are missing. */
  certificateRequired: boolean;
  /** Scopes the platform requested; the page lists what it will receive. */
  scopes: string[];
}

/**
 * Render the login and consent page of an interaction. The server renders the
 * platform's name and the options; /static/login.js renders the texts (Chinese
 * first, English on request) and runs the certificate signer and the passkey
 * ceremony. Signing in is the consent: the page lists what the platform gets.
 */
export function loginPage(options: LoginPageOptions): string {
  const settings = escapeHtml(
    JSON.stringify({
      uid: options.uid,
      clientName: options.clientName,
      audience: options.audience,
      certificate: options.certificate,
      passkey: options.passkey,
      certificateRequired: options.certificateRequired,
      scopes: options.scopes,
    }),
  );
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 ${escapeHtml(options.clientName)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<div id="app" data-page="login" data-settings="${settings}">
<main id="main">
<h1>登录到 ${escapeHtml(options.clientName)}</h1>
<noscript><p>此页面需要启用 JavaScript。/ This page needs JavaScript.</p></noscript>
</main>
</div>
<script type="module" src="/static/login.js"></script>
</body>
</html>`;
}
