import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { SignerError } from './types.js';

/**
 * Certificate and key file handling for the software driver, with pkijs.
 * Loaded only when a key file is opened, because pkijs is large.
 */

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
}

export function pemToDer(pem: string, label: string): Uint8Array {
  const match = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(pem);
  if (!match) throw new SignerError('KEY_FILE_INVALID', `no "${label}" block was found in the file`);
  try {
    return fromBase64(match[1]);
  } catch {
    throw new SignerError('KEY_FILE_INVALID', `the "${label}" block of the file is not valid base64`);
  }
}

export function derToPem(der: Uint8Array, label: string): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Accept a certificate file in PEM or DER form and return its DER. */
export function certificateToDer(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes);
  const der = text.includes('-----BEGIN CERTIFICATE-----') ? pemToDer(text, 'CERTIFICATE') : bytes;
  parseCertificate(der);
  return der;
}

function parseCertificate(der: Uint8Array): pkijs.Certificate {
  try {
    return pkijs.Certificate.fromBER(der as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw new SignerError('CERTIFICATE_MISSING', `the certificate file is not an X.509 certificate (${(error as Error).message})`);
  }
}

export function subjectPublicKeyInfo(certificateDer: Uint8Array): Uint8Array {
  return new Uint8Array(parseCertificate(certificateDer).subjectPublicKeyInfo.toSchema().toBER(false));
}

const CURVES: Record<string, { curve: string; hash: string }> = {
  '1.2.840.10045.3.1.7': { curve: 'P-256', hash: 'SHA-256' },
  '1.3.132.0.34': { curve: 'P-384', hash: 'SHA-384' },
};

/** Choose the WebCrypto parameters that import the certificate's key and sign a challenge the way the service verifies it. */
export function signingAlgorithm(certificateDer: Uint8Array): { import: RsaHashedImportParams | EcKeyImportParams; sign: AlgorithmIdentifier | EcdsaParams } {
  const info = parseCertificate(certificateDer).subjectPublicKeyInfo;
  const oid = info.algorithm.algorithmId;
  if (oid === '1.2.840.113549.1.1.1') {
    return { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } };
  }
  if (oid === '1.2.840.10045.2.1') {
    const curveOid = (info.algorithm.algorithmParams as asn1js.ObjectIdentifier | undefined)?.valueBlock?.toString();
    const curve = curveOid ? CURVES[curveOid] : undefined;
    if (!curve) throw new SignerError('ALGORITHM_UNSUPPORTED', `the certificate's curve ${curveOid ?? 'unknown'} is not supported here (SM2 keys need a CA signing client)`);
    return { import: { name: 'ECDSA', namedCurve: curve.curve }, sign: { name: 'ECDSA', hash: curve.hash } };
  }
  throw new SignerError('ALGORITHM_UNSUPPORTED', `the certificate's key algorithm ${oid} is not supported by the software signer`);
}

const KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const CERT_BAG = '1.2.840.113549.1.12.10.1.3';

/**
 * Open a PKCS#12 file: check its MAC with the password, decrypt its bags and
 * return the private key (PKCS#8 DER), the certificate that matches it and the
 * other certificates as the chain.
 */
export async function openPkcs12(bytes: Uint8Array, password: string): Promise<{ key: Uint8Array; certificate: Uint8Array; chain: Uint8Array[] }> {
  const passwordBytes = new TextEncoder().encode(password).buffer as ArrayBuffer;
  let pfx: pkijs.PFX;
  try {
    pfx = pkijs.PFX.fromBER(bytes as Uint8Array<ArrayBuffer>);
  } catch (error) {
    // In the minified bundle the parser's message names schema fields such as 'dr', so it is left out.
    throw new SignerError('KEY_FILE_INVALID', 'the file is neither a PKCS#8 PEM private key nor a PKCS#12 file');
  }
  try {
    await pfx.parseInternalValues({ password: passwordBytes, checkIntegrity: true });
  } catch (error) {
    throw new SignerError('PASSWORD_WRONG', `the PKCS#12 file could not be opened with this password (${(error as Error).message})`);
  }
  const authenticatedSafe = pfx.parsedValue?.authenticatedSafe as pkijs.AuthenticatedSafe | undefined;
  if (!authenticatedSafe) throw new SignerError('KEY_FILE_INVALID', 'the PKCS#12 file contains no authenticated safe');
  try {
    await authenticatedSafe.parseInternalValues({ safeContents: authenticatedSafe.safeContents.map(() => ({ password: passwordBytes })) });
  } catch (error) {
    throw new SignerError('PASSWORD_WRONG', `the PKCS#12 contents could not be decrypted (${(error as Error).message})`);
  }
  let key: Uint8Array | undefined;
  const certificates: Uint8Array[] = [];
  for (const contents of authenticatedSafe.parsedValue.safeContents as { value: pkijs.SafeContents }[]) {
    for (const bag of contents.value.safeBags) {
      if (bag.bagId === SHROUDED_KEY_BAG) {
        const shrouded = bag.bagValue as unknown as { parseInternalValues(p: { password: ArrayBuffer }): Promise<void>; parsedValue?: pkijs.PrivateKeyInfo };
        await shrouded.parseInternalValues({ password: passwordBytes });
        key = new Uint8Array(shrouded.parsedValue!.toSchema().toBER(false));
      } else if (bag.bagId === KEY_BAG) {
        key = new Uint8Array((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER(false));
      } else if (bag.bagId === CERT_BAG) {
        const certificate = (bag.bagValue as pkijs.CertBag).parsedValue as pkijs.Certificate | undefined;
        if (certificate) certificates.push(new Uint8Array(certificate.toSchema().toBER(false)));
      }
    }
  }
  if (!key) throw new SignerError('KEY_FILE_INVALID', 'the PKCS#12 file contains no private key');
  const leaf = certificates.find((der) => !isCa(der));
  if (!leaf) throw new SignerError('CERTIFICATE_MISSING', 'the PKCS#12 file contains no end-entity certificate');
  return { key, certificate: leaf, chain: certificates.filter((der) => der !== leaf) };
}

function isCa(der: Uint8Array): boolean {
  const extension = parseCertificate(der).extensions?.find((candidate) => candidate.extnID === '2.5.29.19');
  return Boolean((extension?.parsedValue as pkijs.BasicConstraints | undefined)?.cA);
}
