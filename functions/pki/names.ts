import type * as pkijs from 'pkijs';

/**
 * A comparison key for a distinguished name, following the RFC 5280 section
 * 7.1 rules that matter in practice: string values compare after trimming,
 * collapsing inner spaces and case folding, whatever their string type;
 * other values compare by their DER bytes.
 */
const keys = new WeakMap<pkijs.RelativeDistinguishedNames, string>();

export function nameKey(name: pkijs.RelativeDistinguishedNames): string {
  let key = keys.get(name);
  if (key === undefined) {
    key = computeNameKey(name);
    keys.set(name, key);
  }
  return key;
}

function computeNameKey(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => {
      const block = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock;
      if (typeof block?.value === 'string') return `${tv.type}=${normalizeText(block.value)}`;
      const der = (tv.value as { valueBeforeDecodeView?: Uint8Array }).valueBeforeDecodeView ?? new Uint8Array();
      return `${tv.type}#${Buffer.from(der).toString('hex')}`;
    })
    .join('\u0000');
}

function normalizeText(value: string): string {
  return value.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

export function namesEqual(a: pkijs.RelativeDistinguishedNames, b: pkijs.RelativeDistinguishedNames): boolean {
  return nameKey(a) === nameKey(b);
}

export function isSelfIssued(cert: pkijs.Certificate): boolean {
  return namesEqual(cert.subject, cert.issuer);
}
