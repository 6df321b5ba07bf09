import { checkCreditCode } from '../../functions/lib/credit-code.js';
import { callJson, ServiceError } from '../lib/api.js';
import { field, h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { enterpriseStatusText, tr } from '../lib/i18n.js';
import { signerFieldset } from '../lib/signer-form.js';

/** Create a credit code input that explains, as the user types, what is wrong with the code. */
export function creditCodeInput(value = ''): HTMLElement {
  const input = h('input', { name: 'creditCode', value, maxlength: 18, autocomplete: 'off', spellcheck: 'false', required: true, class: 'code' });
  const message = h('p', { class: 'hint', 'aria-live': 'polite' });
  const check = () => {
    const code = input.value.trim().toUpperCase();
    if (code === '') {
      input.removeAttribute('aria-invalid');
      replace(message, tr({ zh: '18 位，见营业执照', en: '18 characters, printed on the business licence' }));
      return;
    }
    const result = checkCreditCode(code);
    input.setAttribute('aria-invalid', String(!result.valid));
    if (result.valid) replace(message, tr({ zh: '✓ 代码格式和校验位正确', en: '✓ format and check character are correct' }));
    else if (result.reason === 'length') replace(message, tr({ zh: '已输入 {n} 位，应为 18 位', en: '{n} characters so far; 18 are needed' }, { n: code.length }));
    else if (result.reason === 'character') replace(message, tr({ zh: '含有不允许的字符（不使用 I、O、S、V、Z）', en: 'contains a character that is not allowed (I, O, S, V and Z are never used)' }));
    else replace(message, tr({ zh: '校验位不对：按前 17 位应为 {c}，请核对营业执照', en: 'wrong check character: the first 17 characters require {c}; check the licence' }, { c: result.expectedCheck ?? '?' }));
  };
  input.addEventListener('input', check);
  check();
  const wrapper = field(tr({ zh: '统一社会信用代码', en: 'Unified Social Credit Code' }), input);
  input.setAttribute('aria-describedby', (message.id = `${input.id}-check`));
  wrapper.appendChild(message);
  return wrapper;
}

/** Create the inputs for an enterprise's declared details. */
export function detailInputs(): HTMLElement[] {
  const input = (name: string, attributes: Record<string, string | boolean> = {}) => h('input', { name, ...attributes });
  return [
    field(tr({ zh: '企业名称', en: 'Enterprise name' }), input('name', { required: true, maxlength: '200' })),
    field(tr({ zh: '法定代表人', en: 'Legal representative' }), input('legalRepresentative', { required: true, maxlength: '100' })),
    field(tr({ zh: '联系人', en: 'Contact person' }), input('contactName', { required: true, maxlength: '100' })),
    field(tr({ zh: '联系电话', en: 'Contact phone' }), input('contactPhone', { required: true, type: 'tel', maxlength: '30' })),
    field(tr({ zh: '电子邮箱（可选）', en: 'E-mail (optional)' }), input('contactEmail', { type: 'email', maxlength: '254' })),
  ];
}

function detailsOf(form: HTMLFormElement) {
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value.trim() ?? '';
  return {
    name: value('name'),
    legalRepresentative: value('legalRepresentative'),
    contact: { name: value('contactName'), phone: value('contactPhone'), ...(value('contactEmail') ? { email: value('contactEmail') } : {}) },
  };
}

/** Create the self-registration form. `onDone` receives the code, and whether it was registered before. */
export function registrationForm(onDone: (creditCode: string, alreadyRegistered: boolean) => void): HTMLElement {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h('form', { 'aria-labelledby': 'register-title' },
    h('h2', { id: 'register-title' }, tr({ zh: '注册企业', en: 'Register an enterprise' })),
    h('p', { class: 'hint' }, tr({ zh: '注册后需绑定一张载有本企业信用代码的数字证书才能完成认证。', en: 'After registering, bind a certificate that carries the credit code to verify the enterprise.' })),
    creditCodeInput(),
    detailInputs(),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '注册', en: 'Register' })),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const creditCode = (form.elements.namedItem('creditCode') as HTMLInputElement).value.trim().toUpperCase();
    try {
      await callJson('/api/enterprises', { body: { creditCode, ...detailsOf(form) } });
      replace(status, h('p', { class: 'success' }, tr({ zh: '已注册 {code}。下一步：绑定证书。', en: 'Registered {code}. Next: bind a certificate.' }, { code: creditCode })));
      onDone(creditCode, false);
    } catch (error) {
      replace(status, errorBox(error));
      if (error instanceof ServiceError && error.code === 'ALREADY_REGISTERED') onDone(creditCode, true);
    }
  });
  return form;
}

/**
 * Create the certificate binding form. It signs a binding challenge with the chosen
 * signer driver. With "complete the record" checked it also sends the details
 * typed here, which replace what was declared before (for example by a CA firm).
 */
export async function bindingForm(creditCode: string, completeRecord: boolean, onBound: (result: any) => void): Promise<HTMLElement> {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const signer = await signerFieldset();
  const complete = h('input', { type: 'checkbox', name: 'complete', checked: completeRecord, id: 'complete-record' });
  // A hidden fieldset is also disabled, so that its required inputs do not block the form.
  const details = h('fieldset', { class: 'details', hidden: !completeRecord, disabled: !completeRecord }, h('legend', {}, tr({ zh: '企业信息', en: 'Enterprise details' })), detailInputs());
  complete.addEventListener('change', () => {
    details.hidden = !complete.checked;
    details.disabled = !complete.checked;
  });
  const form = h('form', { 'aria-labelledby': 'bind-title' },
    h('h2', { id: 'bind-title' }, tr({ zh: '绑定数字证书', en: 'Bind a certificate' })),
    creditCodeInput(creditCode),
    signer.element,
    h('div', { class: 'field' }, h('label', { for: 'confirm-details' }, h('input', { type: 'checkbox', name: 'confirmDetails', id: 'confirm-details' }), ' ', tr({ zh: '确认已登记的企业信息无误', en: 'The registered details are correct' }))),
    h('div', { class: 'field' }, h('label', { for: 'complete-record' }, complete, ' ', tr({ zh: '填写或更正企业信息（例如 CA 机构预先录入的记录）', en: 'Fill in or correct the details (for example a record a CA pre-filled)' }))),
    details,
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '签名并绑定', en: 'Sign and bind' })),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = (form.elements.namedItem('creditCode') as HTMLInputElement).value.trim().toUpperCase();
    const button = form.querySelector('button[type=submit]') as HTMLButtonElement;
    button.disabled = true;
    try {
      replace(status, h('p', {}, tr({ zh: '正在签名…', en: 'Signing…' })));
      const opened = await signer.open();
      try {
        const { certificate, chain } = await opened.getCertificate();
        const { challenge } = await callJson('/api/challenges', { body: { purpose: 'bind', creditCode: code } });
        const { signature, signatureFormat } = await opened.signChallenge(challenge);
        const body: Record<string, unknown> = { certificate, chain, challenge, signature, signatureFormat, confirmDetails: (form.elements.namedItem('confirmDetails') as HTMLInputElement).checked };
        if (complete.checked) body.details = detailsOf(form);
        const result = await callJson(`/api/enterprises/${encodeURIComponent(code)}/certificates`, { body });
        replace(status, h('p', { class: 'success' }, tr({ zh: '证书已绑定，企业状态：{status}。', en: 'Certificate bound; the enterprise is {status}.' }, { status: enterpriseStatusText(result.enterprise.status) })));
        onBound(result);
      } finally {
        await opened.close();
      }
    } catch (error) {
      replace(status, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
