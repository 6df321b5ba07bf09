import type * as pkijs from 'pkijs';
import { extensionValueBytes, objectIdentifierText, readHeader } from './certificate-reader.js';
import { MalformedInput, checkSingleDer } from './der.js';

/**
 * Fields of the extensions that path validation reads on every request,
 * taken straight from the DER bytes. pkijs's `parsedValue` decodes the value
 * with asn1js and builds its whole schema each time, which for the authority
 * key identifier (with its GeneralName choices) cost more than the
 * certificate's signature check.
 *
 * Each reader accepts only a value in canonical DER with exactly the common
 * layout and returns undefined otherwise, and the caller then reads
 * `parsedValue` as before. For the layouts read here both give the same
 * result, which test/unit/extension-fields.test.ts compares.
 */

/** One element inside an extension value: its identifier byte and contents. */
interface Part {
  tag: number;
  content: Uint8Array;
}

/** Check that `value` is exactly one value in canonical DER. */
function isCanonical(value: Uint8Array): boolean {
  try {
    checkSingleDer(value, 'extension value');
    return true;
  } catch (error) {
    if (error instanceof MalformedInput) return false;
    throw error;
  }
}

/** Split the contents of a canonical-DER value with identifier `tag` into its elements, or return undefined. */
function partsOf(value: Uint8Array, tag: number): Part[] | undefined {
  if (value[0] !== tag || !isCanonical(value)) return undefined;
  const outer = readHeader(value, 0);
  const parts: Part[] = [];
  for (let offset = outer.contentStart; offset < outer.end; ) {
    const inner = readHeader(value, offset);
    parts.push({ tag: inner.tag, content: value.subarray(inner.contentStart, inner.end) });
    offset = inner.end;
  }
  return parts;
}

/** Return the contents of a canonical-DER value with the primitive identifier `tag`, or undefined. */
function contentOf(value: Uint8Array, tag: number): Uint8Array | undefined {
  if (value[0] !== tag || !isCanonical(value)) return undefined;
  const element = readHeader(value, 0);
  return value.subarray(element.contentStart, element.end);
}

/** Memoize a reader per extension object. Extensions of parsed certificates are never changed. */
function memoize<T>(read: (ext: pkijs.Extension) => T): (ext: pkijs.Extension) => T {
  const cache = new WeakMap<pkijs.Extension, { value: T }>();
  return (ext) => {
    let entry = cache.get(ext);
    if (!entry) {
      entry = { value: read(ext) };
      cache.set(ext, entry);
    }
    return entry.value;
  };
}

const valueOf = extensionValueBytes;

/**
 * Read the keyIdentifier of an AuthorityKeyIdentifier value that contains
 * only a keyIdentifier ([0] IMPLICIT OCTET STRING), or return undefined for
 * any other layout. pkijs stores a value with authorityCertIssuer that it cannot read
 * as an object without a keyIdentifier, so that layout is left to pkijs.
 */
export const authorityKeyIdentifierOnly = memoize((ext): Uint8Array | undefined => {
  const parts = partsOf(valueOf(ext), 0x30);
  if (parts?.length !== 1 || parts[0].tag !== 0x80) return undefined;
  return parts[0].content;
});

/** The contents of a SubjectKeyIdentifier value (an OCTET STRING), or undefined when it is not one canonical OCTET STRING. */
export const subjectKeyIdentifier = memoize((ext): Uint8Array | undefined => contentOf(valueOf(ext), 0x04));

/** The named bits of a KeyUsage value (a BIT STRING) without its unused-bits byte, or undefined when it is not one canonical BIT STRING. */
export const keyUsageBytes = memoize((ext): Uint8Array | undefined => contentOf(valueOf(ext), 0x03)?.subarray(1));

/**
 * BasicConstraints with an optional cA BOOLEAN and an optional
 * pathLenConstraint from 0 to 127, or undefined for any other layout
 * (asn1js reads INTEGERs of 4 bytes or more as 0, which is left to pkijs).
 */
export const basicConstraintsFields = memoize((ext): { cA: boolean; pathLenConstraint?: number } | undefined => {
  const parts = partsOf(valueOf(ext), 0x30);
  if (!parts || parts.length > 2) return undefined;
  let index = 0;
  let cA = false;
  if (parts[index]?.tag === 0x01) {
    // asn1js reads a BOOLEAN as true when any content byte is non-zero.
    cA = parts[index].content.some((byte) => byte !== 0);
    index += 1;
  }
  if (index === parts.length) return { cA };
  const pathLen = parts[index];
  if (index !== parts.length - 1 || pathLen.tag !== 0x02 || pathLen.content.length !== 1 || pathLen.content[0] > 127) return undefined;
  return { cA, pathLenConstraint: pathLen.content[0] };
});

/** Read the key purpose OIDs of an ExtKeyUsageSyntax value, or return undefined when it is not a canonical SEQUENCE of short OIDs. */
export const extendedKeyUsageIds = memoize((ext): string[] | undefined => {
  const parts = partsOf(valueOf(ext), 0x30);
  if (!parts) return undefined;
  const ids: string[] = [];
  for (const part of parts) {
    if (part.tag !== 0x06) return undefined;
    const id = objectIdentifierText(part.content);
    if (id === undefined) return undefined;
    ids.push(id);
  }
  return ids;
});
