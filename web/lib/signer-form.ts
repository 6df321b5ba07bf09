import { availableSignerDrivers } from '../signer/registry.js';
import type { Signer, SignerDriver } from '../signer/types.js';
import { SignerError } from '../signer/types.js';
import { field, h, replace } from './dom.js';
import { tr } from './i18n.js';

/**
 * Create a fieldset that lets the user pick a signer driver and fill in what it
 * needs (key file, certificate, password), with open() to get a signer.
 */
export async function signerFieldset(): Promise<{ element: HTMLElement; open(): Promise<Signer> }> {
  const drivers = await availableSignerDrivers();
  const fields = h('div', { class: 'driver-fields' });
  const controls = new Map<string, HTMLInputElement>();
  let driver: SignerDriver | undefined = drivers[0];

  const renderFields = () => {
    controls.clear();
    if (!driver) {
      replace(fields, h('p', {}, tr({ zh: '此浏览器无法使用证书签名。', en: 'This browser cannot sign with a certificate.' })));
      return;
    }
    replace(
      fields,
      driver.fields.map((spec) => {
        const input = h('input', { type: spec.kind, name: spec.name, accept: spec.accept, autocomplete: spec.kind === 'password' ? 'off' : undefined });
        controls.set(spec.name, input);
        return field(tr(spec.label) + (spec.optional ? tr({ zh: '（可选）', en: ' (optional)' }) : ''), input, spec.hint ? tr(spec.hint) : undefined);
      }),
    );
  };

  const select = h('select', { name: 'driver' }, drivers.map((candidate) => h('option', { value: candidate.id }, tr(candidate.label))));
  select.addEventListener('change', () => {
    driver = drivers.find((candidate) => candidate.id === select.value);
    renderFields();
  });
  renderFields();

  const element = h('fieldset', { class: 'signer' }, h('legend', {}, tr({ zh: '签名方式', en: 'Signing method' })), drivers.length > 1 ? field(tr({ zh: '签名方式', en: 'Signing method' }), select) : null, fields);
  return {
    element,
    open: async () => {
      if (!driver) throw new SignerError('DRIVER_UNAVAILABLE', 'no signer driver works in this browser');
      const values: Record<string, string | File | undefined> = {};
      for (const [name, input] of controls) values[name] = input.type === 'file' ? input.files?.[0] : input.value;
      return driver.open(values);
    },
  };
}
