import { callJson, ServiceError } from '../lib/api.js';
import { h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { enterpriseStatusText, lang, languageSwitch, setLang, tr } from '../lib/i18n.js';
import { beginSignIn, currentSession, endSession, signOut, finishSignIn, userinfo, type Session } from '../lib/session.js';
import { createPasskey } from '../lib/webauthn.js';
import { bindingForm, registrationForm } from './forms.js';

const CLIENT_ID = 'enterprise-portal';
const SCOPE = 'openid enterprise';
/** Days before expiry from which a certificate is flagged. */
const EXPIRY_WARNING_DAYS = 30;
const ACR_CERTIFICATE = 'urn:trading-identity:acr:certificate';

const app = document.getElementById('app')!;
let signInError: unknown;
let pendingCode = '';
let completeRecord = false;

const formatDate = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' }) : '—');

function shell(...content: (HTMLElement | null)[]): void {
  const session = currentSession(CLIENT_ID);
  replace(
    app,
    h('header', { class: 'bar' },
      h('span', { class: 'brand' }, tr({ zh: '企业门户 · 公共资源交易统一身份认证', en: 'Enterprise portal · Trading Identity' })),
      h('span', { class: 'row' },
        session ? h('button', { type: 'button', class: 'secondary', onClick: () => { void signOut(CLIENT_ID); } }, tr({ zh: '退出', en: 'Sign out' })) : null,
        languageSwitch(() => void render()),
      ),
    ),
    h('main', { id: 'main' }, ...content),
  );
}

function signInWithCertificate(): void {
  // A fresh certificate login: adding a passkey needs one from the last few minutes.
  void beginSignIn(CLIENT_ID, SCOPE, { prompt: 'login', acr_values: ACR_CERTIFICATE });
}

async function renderPublic(): Promise<void> {
  const bindSlot = h('section', { id: 'bind' });
  const showBinding = async (code: string, complete: boolean) => {
    pendingCode = code;
    completeRecord = complete;
    replace(bindSlot, await bindingForm(code, complete, () => {
      bindSlot.appendChild(h('p', {}, h('button', { type: 'button', class: 'primary', onClick: signInWithCertificate }, tr({ zh: '登录企业门户', en: 'Sign in to the portal' }))));
    }));
  };
  shell(
    h('h1', {}, tr({ zh: '企业门户', en: 'Enterprise portal' })),
    signInError ? errorBox(signInError) : null,
    h('section', { 'aria-labelledby': 'signin-title' },
      h('h2', { id: 'signin-title' }, tr({ zh: '已注册的企业', en: 'Registered enterprises' })),
      h('p', {}, tr({ zh: '使用已绑定的数字证书或通行密钥登录，管理证书和通行密钥。', en: 'Sign in with a bound certificate or a passkey to manage certificates and passkeys.' })),
      h('button', { type: 'button', class: 'primary', onClick: () => void beginSignIn(CLIENT_ID, SCOPE) }, tr({ zh: '登录企业门户', en: 'Sign in to the portal' })),
    ),
    h('section', {}, registrationForm((code, already) => void showBinding(code, already))),
    bindSlot,
  );
  await showBinding(pendingCode, completeRecord);
}

function certificateBadge(certificate: any): HTMLElement {
  const daysLeft = Math.floor((Date.parse(certificate.notAfter) - Date.now()) / 86_400_000);
  if (certificate.status === 'revoked') return h('span', { class: 'badge bad' }, tr({ zh: '已失效', en: 'revoked' }));
  if (certificate.status === 'expired' || daysLeft < 0) return h('span', { class: 'badge bad' }, tr({ zh: '已过期', en: 'expired' }));
  if (certificate.caStatus === 'distrusted') return h('span', { class: 'badge bad' }, tr({ zh: '签发机构已被撤销信任，证书不可用', en: 'issuing CA distrusted: unusable' }));
  if (certificate.caStatus === 'suspended' || certificate.caStatus === 'retired') {
    return h('span', { class: 'badge warn' }, tr({ zh: '签发机构已暂停或退出，可继续登录，不能新绑定', en: 'issuing CA suspended or retired: login only' }));
  }
  if (daysLeft <= EXPIRY_WARNING_DAYS) return h('span', { class: 'badge warn' }, tr({ zh: '{d} 天后到期', en: 'expires in {d} days' }, { d: daysLeft }));
  return h('span', { class: 'badge ok' }, tr({ zh: '有效', en: 'valid' }));
}

function certificatesSection(certificates: any[]): HTMLElement {
  const usable = certificates.filter((c) => c.status === 'active' && Date.parse(c.notAfter) > Date.now() && c.caStatus !== 'distrusted');
  const latest = Math.max(0, ...usable.map((c) => Date.parse(c.notAfter)));
  const warning = usable.length === 0
    ? h('p', { class: 'error', role: 'alert' }, tr({ zh: '没有有效的证书：通行密钥已暂停使用，请绑定新证书。', en: 'No valid certificate: passkeys are paused until a new certificate is bound.' }))
    : latest - Date.now() <= EXPIRY_WARNING_DAYS * 86_400_000
      ? h('p', { class: 'notice warn' }, tr({ zh: '最后一张有效证书将于 {date} 到期，到期后通行密钥将暂停使用，请及时更换证书。', en: 'The last valid certificate expires on {date}; passkeys pause after that, so renew it in time.' }, { date: formatDate(new Date(latest).toISOString()) }))
      : null;
  return h('section', { 'aria-labelledby': 'certificates-title' },
    h('h2', { id: 'certificates-title' }, tr({ zh: '已绑定的证书', en: 'Bound certificates' })),
    warning,
    h('table', {},
      h('thead', {}, h('tr', {}, [tr({ zh: '主题', en: 'Subject' }), tr({ zh: '签发者', en: 'Issuer' }), tr({ zh: '序列号', en: 'Serial' }), tr({ zh: '有效期至', en: 'Valid until' }), tr({ zh: '状态', en: 'Status' })].map((title) => h('th', { scope: 'col' }, title)))),
      h('tbody', {}, certificates.map((c) => h('tr', {}, h('td', {}, c.subject), h('td', {}, c.issuer), h('td', {}, c.serial), h('td', {}, formatDate(c.notAfter)), h('td', {}, certificateBadge(c))))),
    ),
  );
}

function passkeyRow(creditCode: string, session: Session, passkey: any, refresh: () => void, status: HTMLElement): HTMLElement {
  const row = h('tr', { 'data-passkey': passkey.id });
  const actions = h('td', {});
  const cells = () => [
    h('td', {}, passkey.displayName),
    h('td', {}, `${passkey.holderName}（${passkey.holderRole}）`),
    h('td', {}, formatDate(passkey.createdAt)),
    h('td', {}, formatDate(passkey.lastUsedAt)),
    h('td', {}, passkey.status === 'active' ? h('span', { class: 'badge ok' }, tr({ zh: '使用中', en: 'active' })) : h('span', { class: 'badge bad' }, tr({ zh: '已停用', en: 'revoked' }))),
    actions,
  ];
  const path = `/api/enterprises/${creditCode}/passkeys/${encodeURIComponent(passkey.id)}`;
  if (passkey.status === 'active') {
    const rename = h('button', { type: 'button', class: 'secondary' }, tr({ zh: '重命名', en: 'Rename' }));
    rename.addEventListener('click', () => {
      const input = h('input', { value: passkey.displayName, maxlength: 64, 'aria-label': tr({ zh: '新名称', en: 'New name' }) });
      const save = h('button', { type: 'submit', class: 'primary' }, tr({ zh: '保存', en: 'Save' }));
      const form = h('form', { class: 'row' }, input, save);
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        try {
          await callJson(path, { method: 'PATCH', body: { displayName: input.value }, token: session.accessToken });
          refresh();
        } catch (error) {
          replace(status, errorBox(error));
        }
      });
      replace(actions, form);
      input.focus();
    });
    const revoke = h('button', { type: 'button', class: 'danger' }, tr({ zh: '停用', en: 'Revoke' }));
    revoke.addEventListener('click', async () => {
      if (revoke.dataset.confirm !== 'yes') {
        revoke.dataset.confirm = 'yes';
        revoke.textContent = tr({ zh: '确认停用（立即生效）', en: 'Confirm: revoke now' });
        return;
      }
      try {
        await callJson(path, { method: 'DELETE', token: session.accessToken });
        refresh();
      } catch (error) {
        replace(status, errorBox(error));
      }
    });
    replace(actions, h('span', { class: 'row' }, rename, revoke));
  }
  replace(row, cells());
  return row;
}

function addPasskeyForm(creditCode: string, session: Session, refresh: () => void, status: HTMLElement): HTMLElement {
  const input = (name: string, label: { zh: string; en: string }, placeholder: string) =>
    h('div', { class: 'field' }, h('label', { for: `passkey-${name}` }, tr(label)), h('input', { id: `passkey-${name}`, name, required: true, maxlength: 64, placeholder }));
  const form = h('form', { 'aria-labelledby': 'add-passkey-title' },
    h('h3', { id: 'add-passkey-title' }, tr({ zh: '添加通行密钥', en: 'Add a passkey' })),
    h('p', { class: 'hint' }, tr({ zh: '需要在几分钟内用数字证书登录过。通行密钥归本企业使用，请注明持有人。', en: 'Needs a certificate sign-in within the last few minutes. Name the person who holds it.' })),
    h('div', { class: 'row' },
      input('displayName', { zh: '名称', en: 'Name' }, tr({ zh: '例如：财务部手机', en: 'e.g. finance office phone' })),
      input('holderName', { zh: '持有人', en: 'Holder' }, ''),
      input('holderRole', { zh: '职务', en: 'Role' }, tr({ zh: '例如：投标专员', en: 'e.g. bid clerk' })),
    ),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '添加通行密钥', en: 'Add passkey' })),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const labels = Object.fromEntries(['displayName', 'holderName', 'holderRole'].map((name) => [name, (form.elements.namedItem(name) as HTMLInputElement).value.trim()]));
    try {
      const options = await callJson(`/api/enterprises/${creditCode}/passkeys/registration-options`, { body: labels, token: session.accessToken });
      const credential = await createPasskey(options);
      await callJson(`/api/enterprises/${creditCode}/passkeys`, { body: { ...labels, userHandle: options.user.id, credential }, token: session.accessToken });
      refresh();
    } catch (error) {
      const again = error instanceof ServiceError && error.code === 'CERTIFICATE_LOGIN_REQUIRED'
        ? h('button', { type: 'button', class: 'primary', onClick: signInWithCertificate }, tr({ zh: '用证书重新登录', en: 'Sign in again with the certificate' }))
        : null;
      replace(status, errorBox(error), again);
    }
  });
  return form;
}

async function renderAccount(session: Session): Promise<void> {
  const claims = await userinfo(session);
  const code = String(claims.credit_code);
  const [enterprise, { certificates }, { passkeys }, { platforms }] = await Promise.all([
    callJson(`/api/enterprises/${code}`, { token: session.accessToken }),
    callJson(`/api/enterprises/${code}/certificates`, { token: session.accessToken }),
    callJson(`/api/enterprises/${code}/passkeys`, { token: session.accessToken }),
    callJson(`/api/enterprises/${code}/logins`, { token: session.accessToken }),
  ]);
  const refresh = () => void render();
  const passkeyStatus = h('div', { role: 'status', 'aria-live': 'polite' });
  const bindSlot = h('section', { id: 'bind' });
  const details = enterprise.details ?? {};
  shell(
    h('h1', {}, enterprise.name ?? code),
    h('section', { 'aria-labelledby': 'record-title' },
      h('h2', { id: 'record-title' }, tr({ zh: '企业信息', en: 'Enterprise record' })),
      h('dl', {},
        h('dt', {}, tr({ zh: '统一社会信用代码', en: 'Credit code' })), h('dd', {}, code),
        h('dt', {}, tr({ zh: '认证状态', en: 'Status' })), h('dd', {}, h('span', { class: enterprise.status === 'verified' ? 'badge ok' : 'badge warn' }, enterpriseStatusText(enterprise.status))),
        h('dt', {}, tr({ zh: '法定代表人', en: 'Legal representative' })), h('dd', {}, details.legalRepresentative ?? '—'),
        h('dt', {}, tr({ zh: '联系人', en: 'Contact' })), h('dd', {}, details.contact ? `${details.contact.name} ${details.contact.phone}` : '—'),
        h('dt', {}, tr({ zh: '登录方式', en: 'Signed in with' })), h('dd', {}, claims.acr === ACR_CERTIFICATE ? tr({ zh: '数字证书', en: 'certificate' }) : tr({ zh: '通行密钥', en: 'passkey' })),
      ),
      enterprise.detailsConfirmed ? null : h('p', { class: 'notice warn' }, tr({ zh: '企业信息尚未由证书持有人确认（可能由 CA 机构预先录入），平台只会看到证书上的企业名称。请在下方绑定证书时完善信息。', en: 'The details are not confirmed by a certificate holder (a CA may have pre-filled them); platforms see only the name in the certificate. Complete them below when binding a certificate.' })),
    ),
    certificatesSection(certificates),
    h('section', { 'aria-labelledby': 'passkeys-title' },
      h('h2', { id: 'passkeys-title' }, tr({ zh: '通行密钥', en: 'Passkeys' })),
      passkeys.length === 0 ? h('p', {}, tr({ zh: '还没有通行密钥。', en: 'No passkeys yet.' })) : h('table', {},
        h('thead', {}, h('tr', {}, [tr({ zh: '名称', en: 'Name' }), tr({ zh: '持有人', en: 'Holder' }), tr({ zh: '添加时间', en: 'Added' }), tr({ zh: '最近使用', en: 'Last used' }), tr({ zh: '状态', en: 'Status' }), tr({ zh: '操作', en: 'Actions' })].map((title) => h('th', { scope: 'col' }, title)))),
        h('tbody', {}, passkeys.map((passkey: any) => passkeyRow(code, session, passkey, refresh, passkeyStatus))),
      ),
      passkeyStatus,
      addPasskeyForm(code, session, refresh, passkeyStatus),
    ),
    h('section', { 'aria-labelledby': 'platforms-title' },
      h('h2', { id: 'platforms-title' }, tr({ zh: '最近登录的平台', en: 'Platforms signed in to recently' })),
      platforms.length === 0 ? h('p', {}, tr({ zh: '暂无记录。', en: 'None yet.' })) : h('table', {},
        h('thead', {}, h('tr', {}, [tr({ zh: '平台', en: 'Platform' }), tr({ zh: '最近登录', en: 'Last sign-in' }), tr({ zh: '方式', en: 'Method' }), tr({ zh: '次数', en: 'Sign-ins' })].map((title) => h('th', { scope: 'col' }, title)))),
        h('tbody', {}, platforms.map((p: any) => h('tr', {}, h('td', {}, p.clientName), h('td', {}, formatDate(p.lastLoginAt)), h('td', {}, p.lastMethod === 'passkey' ? tr({ zh: '通行密钥', en: 'passkey' }) : tr({ zh: '数字证书', en: 'certificate' })), h('td', {}, p.logins)))),
      ),
    ),
    bindSlot,
  );
  replace(bindSlot, await bindingForm(code, !enterprise.detailsConfirmed, refresh));
}

async function render(): Promise<void> {
  document.title = tr({ zh: '企业门户', en: 'Enterprise portal' });
  const session = currentSession(CLIENT_ID);
  if (!session) return renderPublic();
  try {
    await renderAccount(session);
  } catch (error) {
    if (error instanceof ServiceError && (error.code === 'INVALID_TOKEN' || error.status === 401)) {
      endSession(CLIENT_ID);
      signInError = error;
      return renderPublic();
    }
    shell(h('h1', {}, tr({ zh: '企业门户', en: 'Enterprise portal' })), errorBox(error));
  }
}

setLang(lang());
try {
  await finishSignIn(CLIENT_ID);
} catch (error) {
  signInError = error;
}
await render();
