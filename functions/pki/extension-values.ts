import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { OID } from './certificate.js';
import { MalformedInput, parseSingleDer } from './der.js';

/** The ASN.1 shape an extension's value must have (RFC 5280 section 4.2). */
type Shape =
  | { kind: 'primitive'; tagNumber: number; type: string }
  | { kind: 'schema'; schema: () => asn1js.AsnType; type: string; nonEmpty?: boolean };

const UNIVERSAL_BIT_STRING = 3;
const UNIVERSAL_OCTET_STRING = 4;

const SHAPES = new Map<string, Shape>([
  [OID.basicConstraints, { kind: 'schema', schema: () => pkijs.BasicConstraints.schema(), type: 'BasicConstraints' }],
  [OID.keyUsage, { kind: 'primitive', tagNumber: UNIVERSAL_BIT_STRING, type: 'KeyUsage (BIT STRING)' }],
  [OID.extKeyUsage, { kind: 'schema', schema: () => pkijs.ExtKeyUsage.schema(), type: 'ExtKeyUsageSyntax', nonEmpty: true }],
  [OID.subjectKeyIdentifier, { kind: 'primitive', tagNumber: UNIVERSAL_OCTET_STRING, type: 'SubjectKeyIdentifier (OCTET STRING)' }],
  [OID.authorityKeyIdentifier, { kind: 'schema', schema: () => pkijs.AuthorityKeyIdentifier.schema(), type: 'AuthorityKeyIdentifier' }],
  [OID.crlDistributionPoints, { kind: 'schema', schema: () => pkijs.CRLDistributionPoints.schema(), type: 'CRLDistributionPoints', nonEmpty: true }],
  [OID.authorityInfoAccess, { kind: 'schema', schema: () => pkijs.InfoAccess.schema(), type: 'AuthorityInfoAccessSyntax', nonEmpty: true }],
  [OID.certificatePolicies, { kind: 'schema', schema: () => pkijs.CertificatePolicies.schema(), type: 'CertificatePolicies', nonEmpty: true }],
  [OID.subjectAltName, { kind: 'schema', schema: () => pkijs.AltName.schema(), type: 'GeneralNames', nonEmpty: true }],
  [OID.issuerAltName, { kind: 'schema', schema: () => pkijs.AltName.schema(), type: 'GeneralNames', nonEmpty: true }],
]);

/** Verdicts per extension object; parsed certificates are cached, so their extensions are checked once. */
const checked = new WeakMap<pkijs.Extension, string | null>();

/**
 * Check that an extension's value is exactly one canonical DER value of the
 * type RFC 5280 gives it, and return what is wrong, or undefined when it is
 * well formed. pkijs reads a value that does not match its schema as an empty
 * or default object and ignores bytes after the value, so without this check
 * a damaged basicConstraints or keyUsage would be half read. Extensions with
 * no known shape are only checked for canonical DER.
 */
export function extensionValueProblem(ext: pkijs.Extension): string | undefined {
  const known = checked.get(ext);
  if (known !== undefined) return known ?? undefined;
  const problem = findProblem(ext);
  checked.set(ext, problem ?? null);
  return problem;
}

function findProblem(ext: pkijs.Extension): string | undefined {
  let value: asn1js.AsnType;
  try {
    value = parseSingleDer(ext.extnValue.valueBlock.valueHexView, `extension ${ext.extnID}`);
  } catch (error) {
    if (error instanceof MalformedInput) return error.detail;
    throw error;
  }
  const shape = SHAPES.get(ext.extnID);
  if (!shape) return undefined;
  const { tagClass, tagNumber } = value.idBlock;
  if (shape.kind === 'primitive') {
    if (tagClass !== 1 || tagNumber !== shape.tagNumber) return `its value must be a ${shape.type}`;
    return undefined;
  }
  if (!asn1js.compareSchema(value, value, shape.schema()).verified) return `its value is not a valid ${shape.type}`;
  if (shape.nonEmpty && (value as asn1js.Sequence).valueBlock.value.length === 0) return `its ${shape.type} must contain at least one entry`;
  return undefined;
}
