import { callJson } from './lib/api.js';
import { h, replace } from './lib/dom.js';
import { errorBox } from './lib/errors.js';
import { languageSwitch, setLang, lang, tr } from './lib/i18n.js';
import { signerFieldset } from './lib/signer-form.js';
import { browserSupportsWebAuthn, getPasskey } from './lib/webauthn.js';

/** Settings rendered by the server into data-settings (oidc/pages.ts). */
interface LoginSettings {
  uid: string;
  clientName: string;
  audience: 'enterprise' | 'operator';
  certificate: boolean;
  passkey: boolean;
  certificateRequired: boolean;
  scopes: string[];
}

const app = document.getElementById('app')!;
const settings = JSON.parse(app.dataset.settings ?? '{}') as LoginSettings;
const base = `/interaction/${encodeURIComponent(settings.uid)}`;

/** Claims the platform receives, per scope, listed on the page as the consent. */
const RELEASED: Record<string, { zh: string; en: string }> = {
  enterprise: { zh: '企业名称、统一社会信用代码、认证状态、登录方式', en: 'enterprise name, credit code, verification status, sign-in method' },
  admin: { zh: '姓名和管理员角色', en: 'your name and operator role' },
  offline_access: { zh: '在您离开后继续访问（刷新令牌）', en: 'access while you are away (refresh token)' },
};

const status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });

function showError(error: unknown): void {
  replace(status, errorBox(error));
  status.querySelector('.error')?.setAttribute('tabindex', '-1');
  (status.querySelector('.error') as HTMLElement | null)?.focus();
}

function busy(message: { zh: string; en: string }): void {
  replace(status, h('p', { class: 'progress' }, tr(message)));
}

async function finish(result: { redirectTo: string }): Promise<void> {
  busy({ zh: '登录成功，正在返回…', en: 'Signed in, returning…' });
  location.assign(result.redirectTo);
}

async function signInWithPasskey(button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    busy({ zh: '请在设备上确认通行密钥…', en: 'Confirm the passkey on your device…' });
    const options = await callJson(`${base}/passkey-options`);
    const credential = await getPasskey(options);
    busy({ zh: '正在验证…', en: 'Verifying…' });
    await finish(await callJson(`${base}/passkey`, { body: { credential } }));
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

async function signInWithCertificate(form: HTMLFormElement, open: () => Promise<import('./signer/types.js').Signer>): Promise<void> {
  const button = form.querySelector('button[type=submit]') as HTMLButtonElement;
  button.disabled = true;
  try {
    busy({ zh: '正在读取证书…', en: 'Reading the certificate…' });
    const signer = await open();
    try {
      const { certificate, chain } = await signer.getCertificate();
      const { challenge } = await callJson(`${base}/challenge`);
      busy({ zh: '正在签名…', en: 'Signing…' });
      const { signature, signatureFormat } = await signer.signChallenge(challenge);
      busy({ zh: '正在验证证书…', en: 'Verifying the certificate…' });
      await finish(await callJson(`${base}/certificate`, { body: { certificate, chain, challenge, signature, signatureFormat } }));
    } finally {
      await signer.close();
    }
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

async function cancel(): Promise<void> {
  try {
    const result = await callJson(`${base}/abort`, { body: {} });
    location.assign(result.redirectTo);
  } catch (error) {
    showError(error);
  }
}

async function render(): Promise<void> {
  document.title = tr({ zh: '登录 {name}', en: 'Sign in to {name}' }, { name: settings.clientName });
  const released = settings.scopes.filter((scope) => RELEASED[scope]).map((scope) => tr(RELEASED[scope]));
  const options: HTMLElement[] = [];

  if (settings.passkey) {
    const supported = browserSupportsWebAuthn();
    const button = h('button', { type: 'button', class: 'primary', disabled: !supported }, tr({ zh: '使用通行密钥登录', en: 'Sign in with a passkey' }));
    button.addEventListener('click', () => void signInWithPasskey(button));
    options.push(
      h(
        'section',
        { class: 'option', 'aria-labelledby': 'passkey-title' },
        h('h2', { id: 'passkey-title' }, settings.audience === 'operator' ? tr({ zh: '管理员安全密钥', en: 'Operator security key' }) : tr({ zh: '通行密钥', en: 'Passkey' })),
        h('p', {}, settings.audience === 'operator'
          ? tr({ zh: '使用登记过的安全密钥或通行密钥登录管理控制台。', en: 'Use the security key or passkey you enrolled.' })
          : tr({ zh: '使用手机、电脑或安全密钥上已添加的通行密钥，无需插入证书。', en: 'Use a passkey added to your phone, computer or security key; no certificate needed.' })),
        supported ? null : h('p', { class: 'hint' }, tr({ zh: '此浏览器不支持通行密钥。', en: 'This browser does not support passkeys.' })),
        button,
      ),
    );
  }

  if (settings.certificate) {
    const signer = await signerFieldset();
    const form = h('form', { class: 'option', 'aria-labelledby': 'certificate-title' },
      h('h2', { id: 'certificate-title' }, tr({ zh: '数字证书', en: 'Certificate' })),
      h('p', {}, tr({ zh: '使用已绑定到企业的数字证书签名登录。', en: 'Sign with a certificate bound to your enterprise.' })),
      signer.element,
      h('button', { type: 'submit', class: settings.passkey ? 'secondary' : 'primary' }, tr({ zh: '使用证书登录', en: 'Sign in with the certificate' })),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void signInWithCertificate(form, signer.open);
    });
    options.push(form);
  }

  replace(
    app,
    h('header', { class: 'bar' }, h('span', { class: 'brand' }, tr({ zh: '公共资源交易统一身份认证', en: 'Trading Identity' })), languageSwitch(() => void render())),
    h(
      'main',
      { id: 'main' },
      h('h1', {}, tr({ zh: '登录到 {name}', en: 'Sign in to {name}' }, { name: settings.clientName })),
      released.length
        ? h('p', { class: 'consent' }, tr({ zh: '登录即表示同意 {name} 获取：{items}。', en: 'By signing in you allow {name} to receive: {items}.' }, { name: settings.clientName, items: released.join(lang() === 'zh' ? '；' : '; ') }))
        : null,
      settings.certificateRequired
        ? h('p', { class: 'notice' }, tr({ zh: '{name} 要求本次使用数字证书登录（例如投标签章），通行密钥不可用。', en: '{name} requires a certificate sign-in this time (for example to sign a bid); passkeys cannot be used.' }, { name: settings.clientName }))
        : null,
      h('div', { class: 'options' }, options),
      status,
      h('p', {}, h('button', { type: 'button', class: 'link', onClick: () => void cancel() }, tr({ zh: '取消并返回平台', en: 'Cancel and return to the platform' }))),
    ),
  );
}

setLang(lang());
void render();
