import { callJson } from '../lib/api.js';
import { field, h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { lang, languageSwitch, setLang, tr } from '../lib/i18n.js';
import { createPasskey } from '../lib/webauthn.js';

/**
 * The operator enrollment page, opened from the one-time link that
 * `npm run operator:enroll` prints. The token is in the fragment, which is
 * taken off the address at once so it does not stay in the history.
 */
const app = document.getElementById('app')!;
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
history.replaceState(null, '', location.pathname);
let operatorName = '';
let done = false;
let failure: unknown;

async function load(): Promise<void> {
  try {
    // Options are fetched again on submit; this call only checks the link and names the operator.
    const options = await callJson('/api/operator-enrollment/options', { body: { token } });
    operatorName = options.operatorName;
  } catch (error) {
    failure = error;
  }
}

function render(): void {
  document.title = tr({ zh: '登记管理员安全密钥', en: 'Enroll an operator key' });
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const name = h('input', { name: 'displayName', required: true, maxlength: 64, value: tr({ zh: '我的安全密钥', en: 'My security key' }) });
  const form = h('form', {},
    h('p', {}, tr({ zh: '管理员：{name}。请插入安全密钥或使用设备上的通行密钥完成登记。此链接只能使用一次。', en: 'Operator: {name}. Insert your security key or use a passkey on this device. The link works once.' }, { name: operatorName })),
    field(tr({ zh: '密钥名称', en: 'Key name' }), name),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '登记安全密钥', en: 'Enroll the key' })),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const options = await callJson('/api/operator-enrollment/options', { body: { token } });
      const credential = await createPasskey(options);
      await callJson('/api/operator-enrollment', { body: { token, userHandle: options.user.id, credential, displayName: name.value } });
      done = true;
      render();
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  replace(
    app,
    h('header', { class: 'bar' }, h('span', { class: 'brand' }, tr({ zh: '管理控制台', en: 'Admin console' })), languageSwitch(render)),
    h('main', { id: 'main' },
      h('h1', {}, tr({ zh: '登记管理员安全密钥', en: 'Enroll an operator key' })),
      failure ? errorBox(failure) : done
        ? h('div', { class: 'success' }, h('p', {}, tr({ zh: '登记完成。现在可以用这把密钥登录管理控制台。', en: 'Done. You can now sign in to the admin console with this key.' })), h('p', {}, h('a', { href: '/static/admin/index.html' }, tr({ zh: '前往管理控制台', en: 'Go to the admin console' }))))
        : form,
    ),
  );
}

setLang(lang());
await load();
render();
