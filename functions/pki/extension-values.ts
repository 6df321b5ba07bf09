import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { OID } from './certificate.js';
import { extensionValueBytes } from './certificate-reader.js';
import { authorityKeyIdentifierOnly, basicConstraintsFields, extendedKeyUsageIds } from './extension-fields.js';
import { MalformedInput, checkSingleDer } from './der.js';

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

/** Readers of extension-fields.ts by extension type. Each returns undefined for layouts outside the common one. */
const COMMON_LAYOUTS = new Map<string, (ext: pkijs.Extension) => unknown>([
  [OID.authorityKeyIdentifier, authorityKeyIdentifierOnly],
  [OID.basicConstraints, basicConstraintsFields],
  [OID.extKeyUsage, extendedKeyUsageIds],
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

/**
 * Schemas built once per extension type. asn1js's compareSchema records what
 * it matched in the value it is given, not in the schema, so one schema object
 * serves every check, and building pkijs schemas is a large part of the cost.
 */
const schemas = new Map<string, asn1js.AsnType>();

function findProblem(ext: pkijs.Extension): string | undefined {
  const bytes = extensionValueBytes(ext);
  try {
    // The structural walk runs without building asn1js objects; only the types with a schema are decoded below.
    checkSingleDer(bytes, `extension ${ext.extnID}`);
  } catch (error) {
    if (error instanceof MalformedInput) return error.detail;
    throw error;
  }
  const shape = SHAPES.get(ext.extnID);
  if (!shape) return undefined;
  if (shape.kind === 'primitive') {
    // A universal, primitive tag below 31 is the whole identifier byte.
    if (bytes[0] !== shape.tagNumber) return `its value must be a ${shape.type}`;
    return undefined;
  }
  // A value that a reader in extension-fields.ts accepts has a layout the schema matches, so only the
  // non-empty rule is left to check for it.
  const common = COMMON_LAYOUTS.get(ext.extnID)?.(ext);
  if (common !== undefined) {
    if (shape.nonEmpty && Array.isArray(common) && common.length === 0) return `its ${shape.type} must contain at least one entry`;
    return undefined;
  }
  const decoded = asn1js.fromBER(bytes);
  if (decoded.offset === -1) return `its value is not a valid ${shape.type}`;
  let schema = schemas.get(ext.extnID);
  if (!schema) {
    schema = shape.schema();
    schemas.set(ext.extnID, schema);
  }
  if (!asn1js.compareSchema(decoded.result, decoded.result, schema).verified) return `its value is not a valid ${shape.type}`;
  if (shape.nonEmpty && (decoded.result as asn1js.Sequence).valueBlock.value.length === 0) return `its ${shape.type} must contain at least one entry`;
  return undefined;
}
