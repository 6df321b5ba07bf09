import { createHash, randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { extendedKeyUsages, keyUsages, nameToString, serialHex } from './certificate.js';
import { MalformedInput, parseSingleDer } from './der.js';
import { namesEqual } from './names.js';
import { CRL_REASONS } from './revocation.js';
import { ALGORITHM_OID, UnsupportedAlgorithm, verifySignature } from './signature.js';
import type { CaProfile } from './trust-store.js';

/** OIDs of RFC 6960. */
export const OCSP_OID = {
  basicResponse: '1.3.6.1.5.5.7.48.1.1',
  nonce: '1.3.6.1.5.5.7.48.1.2',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;

/** Hash algorithms a CertID may use, by name and OID. */
export type OcspHashAlgorithm = 'sha256' | 'sha1';
const HASH_OID: Record<OcspHashAlgorithm, string> = { sha256: ALGORITHM_OID.sha256, sha1: ALGORITHM_OID.sha1 };
const HASH_BY_OID: Record<string, string> = {
  [ALGORITHM_OID.sha1]: 'sha1',
  [ALGORITHM_OID.sha256]: 'sha256',
  [ALGORITHM_OID.sha384]: 'sha384',
  [ALGORITHM_OID.sha512]: 'sha512',
};

/** Clock skew allowed between this service and a responder when judging thisUpdate and nextUpdate. */
export const OCSP_CLOCK_SKEW_MS = 5 * 60_000;
/** Nonce length in bytes; RFC 8954 allows 1 to 32. */
const NONCE_BYTES = 32;
/** Maximum number of certificates in a response that are tried as delegated responders. */
const MAX_RESPONDER_CANDIDATES = 4;

/** responseStatus values of RFC 6960 section 4.2.1, by value. */
const RESPONSE_STATUS = ['successful', 'malformedRequest', 'internalError', 'tryLater', '(unused)', 'sigRequired', 'unauthorized'];

/** An OCSP request for one certificate, with what is needed to check the response. */
export interface OcspRequest {
  der: Uint8Array;
  /** The extnValue of the nonce extension sent, when one was sent. */
  nonce?: Uint8Array;
  hashAlgorithm: OcspHashAlgorithm;
  /** Text that identifies the CertID (hash algorithm, issuer key hash, serial), for caches and logs. */
  certIdKey: string;
}

const hash = (algorithm: string, data: Uint8Array) => new Uint8Array(createHash(algorithm).update(data).digest());
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Compute the issuer name and key hashes of a CertID (RFC 6960 section 4.1.1) with `algorithm`. */
function certIdHashes(cert: pkijs.Certificate, issuer: pkijs.Certificate, algorithm: string): { nameHash: Uint8Array; keyHash: Uint8Array } {
  return {
    nameHash: hash(algorithm, new Uint8Array(cert.issuer.toSchema().toBER(false))),
    // The hash covers the value of the subjectPublicKey BIT STRING, without its tag, length and unused-bits octet.
    keyHash: hash(algorithm, issuer.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView),
  };
}

/**
 * Build a DER OCSPRequest for `cert`, whose issuer is `issuer`, with a CertID
 * hashed by `hashAlgorithm` and, when `withNonce` is set, a random nonce
 * extension (RFC 8954). The request is unsigned, as responders expect.
 */
export function buildOcspRequest(cert: pkijs.Certificate, issuer: pkijs.Certificate, hashAlgorithm: OcspHashAlgorithm, withNonce: boolean): OcspRequest {
  const { nameHash, keyHash } = certIdHashes(cert, issuer, hashAlgorithm);
  const certId = new pkijs.CertID({
    hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: HASH_OID[hashAlgorithm] }),
    issuerNameHash: new asn1js.OctetString({ valueHex: nameHash }),
    issuerKeyHash: new asn1js.OctetString({ valueHex: keyHash }),
    serialNumber: new asn1js.Integer({ valueHex: cert.serialNumber.valueBlock.valueHexView }),
  });
  let nonce: Uint8Array | undefined;
  const extensions: pkijs.Extension[] = [];
  if (withNonce) {
    nonce = new Uint8Array(new asn1js.OctetString({ valueHex: randomBytes(NONCE_BYTES) }).toBER(false));
    extensions.push(new pkijs.Extension({ extnID: OCSP_OID.nonce, critical: false, extnValue: nonce.slice().buffer }));
  }
  const request = new pkijs.OCSPRequest({
    tbsRequest: new pkijs.TBSRequest({
      requestList: [new pkijs.Request({ reqCert: certId })],
      ...(extensions.length > 0 ? { requestExtensions: extensions } : {}),
    }),
  });
  return {
    der: new Uint8Array(request.toSchema(true).toBER(false)),
    nonce,
    hashAlgorithm,
    certIdKey: `${hashAlgorithm}:${hex(keyHash)}:${serialHex(cert)}`,
  };
}

export type OcspVerdict =
  | { status: 'good'; thisUpdate: Date; until: Date; nextUpdate?: Date; signer: string }
  | { status: 'revoked'; thisUpdate: Date; until: Date; reason: string; revocationDate: Date; signer: string }
  /** A response that cannot be used (status unknown included), with the reason in `problem`. */
  | { status: 'unusable'; problem: string };

export interface OcspCheckOptions {
  /** Validation time. */
  at: Date;
  /** The request that the response belongs to. Its nonce must be echoed when `requireNonce` is set. */
  request: OcspRequest;
  /** Whether the responder supports nonces, so a response without the request's nonce is rejected. */
  requireNonce: boolean;
  /** Maximum age of a response without nextUpdate, in seconds. */
  maxAgeSeconds: number;
}

const unusable = (problem: string): OcspVerdict => ({ status: 'unusable', problem });

/**
 * Check an OCSP response for `cert` (RFC 6960 section 3.2). The response
 * counts only when its status is successful and it is a BasicOCSPResponse. It
 * must be signed, with an algorithm the CA profile allows, by the issuing CA
 * or by a delegated responder certificate that the issuing CA issued with
 * id-kp-OCSPSigning and that is valid at the validation time. Its SingleResponse must match the
 * certificate's CertID, thisUpdate must not be in the future and nextUpdate
 * must not have passed (both with OCSP_CLOCK_SKEW_MS of skew), or, without
 * nextUpdate, thisUpdate must be at most `maxAgeSeconds` old. The nonce must
 * come back unchanged when one was sent and the responder supports nonces.
 * The delegated responder's own revocation status is not checked.
 */
export function checkOcspResponse(der: Uint8Array, cert: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, options: OcspCheckOptions): OcspVerdict {
  let response: pkijs.OCSPResponse;
  let basic: pkijs.BasicOCSPResponse;
  try {
    response = new pkijs.OCSPResponse({ schema: parseSingleDer(der, 'OCSP response') });
    const status = response.responseStatus.valueBlock.valueDec;
    if (status !== 0) return unusable(`the responder returned status ${RESPONSE_STATUS[status] ?? status} instead of a response`);
    const bytes = response.responseBytes;
    if (!bytes) return unusable('the response is successful but carries no response bytes');
    if (bytes.responseType !== OCSP_OID.basicResponse) return unusable(`the response type ${bytes.responseType} is not a BasicOCSPResponse`);
    basic = new pkijs.BasicOCSPResponse({ schema: parseSingleDer(bytes.response.valueBlock.valueHexView, 'BasicOCSPResponse') });
  } catch (error) {
    if (error instanceof MalformedInput) return unusable(error.message);
    return unusable(`the response is not an OCSP response (${(error as Error).message})`);
  }
  const data = basic.tbsResponseData;
  if (data.version !== undefined && data.version !== 0) return unusable(`the response has version ${data.version + 1}; only version 1 is defined`);

  const signer = responseSigner(basic, issuer, profile, options.at);
  if (typeof signer === 'string') return unusable(signer);

  const single = matchingResponse(data.responses, cert, issuer);
  if (typeof single === 'string') return unusable(single);

  if (options.request.nonce) {
    const echoed = data.responseExtensions?.find((ext) => ext.extnID === OCSP_OID.nonce);
    if (echoed && !Buffer.from(echoed.extnValue.valueBlock.valueHexView).equals(Buffer.from(options.request.nonce))) {
      return unusable('the response carries a nonce other than the one sent, so it may be a replay');
    }
    if (!echoed && options.requireNonce) {
      return unusable(`the response does not echo the nonce sent; CA profile "${profile.id}" says its responder supports nonces (set revocation.ocspNonce to false if it does not)`);
    }
  }

  const at = options.at.getTime();
  const thisUpdate = single.thisUpdate;
  if (thisUpdate.getTime() > at + OCSP_CLOCK_SKEW_MS) {
    return unusable(`the response thisUpdate ${thisUpdate.toISOString()} is after the validation time ${options.at.toISOString()}`);
  }
  let until: Date;
  if (single.nextUpdate) {
    if (single.nextUpdate.getTime() + OCSP_CLOCK_SKEW_MS < at) {
      return unusable(`the response is stale: its nextUpdate ${single.nextUpdate.toISOString()} is before ${options.at.toISOString()}`);
    }
    until = single.nextUpdate;
  } else {
    until = new Date(thisUpdate.getTime() + options.maxAgeSeconds * 1000);
    if (until.getTime() < at) {
      return unusable(`the response is stale: it has no nextUpdate and its thisUpdate ${thisUpdate.toISOString()} is more than ${options.maxAgeSeconds} s before ${options.at.toISOString()}`);
    }
  }

  const status = single.certStatus as asn1js.BaseBlock & { valueBlock: { value?: asn1js.AsnType[] } };
  const signerName = signer === issuer ? `the issuing CA "${nameToString(issuer.subject)}"` : `delegated responder "${nameToString(signer.subject)}"`;
  if (status.idBlock.tagClass !== 3) return unusable('the response certStatus cannot be decoded');
  switch (status.idBlock.tagNumber) {
    case 0:
      return { status: 'good', thisUpdate, until, nextUpdate: single.nextUpdate, signer: signerName };
    case 1: {
      const revoked = revokedInfo(status);
      if (!revoked) return unusable('the response says revoked but its RevokedInfo cannot be decoded');
      return { status: 'revoked', thisUpdate, until, ...revoked, signer: signerName };
    }
    case 2:
      return unusable(`the responder does not know serial ${serialHex(cert)} (status unknown)`);
    default:
      return unusable(`the response certStatus has the unknown tag [${status.idBlock.tagNumber}]`);
  }
}

/** Decode RevokedInfo ::= SEQUENCE { revocationTime GeneralizedTime, revocationReason [0] EXPLICIT CRLReason OPTIONAL }. */
function revokedInfo(status: { valueBlock: { value?: asn1js.AsnType[] } }): { revocationDate: Date; reason: string } | undefined {
  const [time, reasonBlock] = status.valueBlock.value ?? [];
  if (!(time instanceof asn1js.GeneralizedTime)) return undefined;
  let reason = 'unspecified';
  const inner = (reasonBlock as { valueBlock?: { value?: asn1js.AsnType[] } } | undefined)?.valueBlock?.value?.[0];
  if (inner instanceof asn1js.Enumerated) reason = CRL_REASONS[inner.valueBlock.valueDec] ?? `reason ${inner.valueBlock.valueDec}`;
  return { revocationDate: time.toDate(), reason };
}

/** Find the SingleResponse whose CertID is the certificate's, or return why none matches. */
function matchingResponse(responses: pkijs.SingleResponse[], cert: pkijs.Certificate, issuer: pkijs.Certificate): pkijs.SingleResponse | string {
  const serial = Buffer.from(cert.serialNumber.valueBlock.valueHexView);
  const others: string[] = [];
  for (const single of responses) {
    const id = single.certID;
    const algorithm = HASH_BY_OID[id.hashAlgorithm.algorithmId];
    if (!algorithm) continue;
    const { nameHash, keyHash } = certIdHashes(cert, issuer, algorithm);
    const sameIssuer =
      Buffer.from(id.issuerNameHash.valueBlock.valueHexView).equals(Buffer.from(nameHash)) && Buffer.from(id.issuerKeyHash.valueBlock.valueHexView).equals(Buffer.from(keyHash));
    const responseSerial = Buffer.from(id.serialNumber.valueBlock.valueHexView);
    if (sameIssuer && responseSerial.equals(serial)) return single;
    others.push(sameIssuer ? `serial ${responseSerial.toString('hex').toUpperCase()}` : 'a certificate of another issuer');
  }
  if (responses.length === 0) return 'the response contains no SingleResponse';
  return `the response is for ${others.join(', ') || 'CertIDs with an unsupported hash algorithm'}, not for serial ${serialHex(cert)} of "${nameToString(issuer.subject)}"`;
}

/** Check whether the responderID (byName [1] or byKey [2]) names `cert`. */
function responderIdMatches(responderId: unknown, cert: pkijs.Certificate): boolean {
  if (responderId instanceof pkijs.RelativeDistinguishedNames) return namesEqual(responderId, cert.subject);
  if (responderId instanceof asn1js.OctetString) {
    const keyHash = hash('sha1', cert.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView);
    return Buffer.from(responderId.valueBlock.valueHexView).equals(Buffer.from(keyHash));
  }
  return false;
}

function signatureValid(data: Uint8Array, signature: asn1js.BitString, algorithm: pkijs.AlgorithmIdentifier, signerKey: pkijs.Certificate, profile: CaProfile): boolean {
  if (!profile.allowedSignatureAlgorithms.includes(algorithm.algorithmId)) return false;
  if (signature.valueBlock.unusedBits !== 0) return false;
  try {
    return verifySignature({ data, signature: signature.valueBlock.valueHexView, spki: signerKey.subjectPublicKeyInfo, algorithm, sm2SignerId: profile.sm2SignerId });
  } catch (error) {
    if (error instanceof UnsupportedAlgorithm) return false;
    throw error;
  }
}

/**
 * Find who signed the response: the issuing CA, or a delegated responder
 * certificate from the response that the issuing CA issued for OCSP signing
 * (RFC 6960 section 4.2.2.2). Returns a message when neither signed it.
 */
function responseSigner(basic: pkijs.BasicOCSPResponse, issuer: pkijs.Certificate, profile: CaProfile, at: Date): pkijs.Certificate | string {
  const algorithm = basic.signatureAlgorithm.algorithmId;
  if (!profile.allowedSignatureAlgorithms.includes(algorithm)) return `the response signature algorithm ${algorithm} is not allowed by CA profile "${profile.id}"`;
  const tbs = basic.tbsResponseData.tbsView;
  const responderId = basic.tbsResponseData.responderID;
  if (responderIdMatches(responderId, issuer)) {
    if (signatureValid(tbs, basic.signature, basic.signatureAlgorithm, issuer, profile)) return issuer;
    return `the response names the issuing CA "${nameToString(issuer.subject)}" as responder, but its signature does not verify with that CA's key`;
  }
  const problems: string[] = [];
  for (const candidate of (basic.certs ?? []).slice(0, MAX_RESPONDER_CANDIDATES)) {
    if (!responderIdMatches(responderId, candidate)) continue;
    const problem = delegationProblem(candidate, issuer, profile, at);
    if (problem) {
      problems.push(problem);
      continue;
    }
    if (signatureValid(tbs, basic.signature, basic.signatureAlgorithm, candidate, profile)) return candidate;
    problems.push(`the response signature does not verify with the key of responder "${nameToString(candidate.subject)}"`);
  }
  if (problems.length > 0) return problems.join('; ');
  return `the response is signed by neither the issuing CA "${nameToString(issuer.subject)}" nor a responder certificate it issued, so it may be forged`;
}

/** Explain why `responder` may not sign OCSP responses for certificates of `issuer`, or return undefined when it may. */
function delegationProblem(responder: pkijs.Certificate, issuer: pkijs.Certificate, profile: CaProfile, at: Date): string | undefined {
  const name = `responder certificate "${nameToString(responder.subject)}" (serial ${serialHex(responder)})`;
  if (!namesEqual(responder.issuer, issuer.subject)) return `${name} is not issued by the issuing CA "${nameToString(issuer.subject)}"`;
  if (!signatureValid(responder.tbsView, responder.signatureValue, responder.signatureAlgorithm, issuer, profile)) {
    return `${name} is not signed by the issuing CA's key with an algorithm CA profile "${profile.id}" allows`;
  }
  if (!(extendedKeyUsages(responder) ?? []).includes(OCSP_OID.ocspSigning)) return `${name} lacks the extended key usage id-kp-OCSPSigning, so it may not sign OCSP responses`;
  const usages = keyUsages(responder);
  if (usages && !usages.has('digitalSignature') && !usages.has('nonRepudiation')) return `${name} has a key usage that allows no signatures`;
  if (responder.notBefore.value > at) return `${name} is valid only from ${responder.notBefore.value.toISOString()}`;
  if (responder.notAfter.value < at) return `${name} expired at ${responder.notAfter.value.toISOString()}`;
  return undefined;
}
