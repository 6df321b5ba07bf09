import type { Signer, SignerDriver } from './types.js';
import { SignerError } from './types.js';

/**
 * The software driver: a key file instead of a USB key, so the whole journey
 * works without hardware (and in tests). It reads a PKCS#8 PEM key with its
 * certificate, or a PKCS#12 file, and signs with WebCrypto. RSA and ECDSA
 * P-256/P-384 keys are supported; SM2 needs a CA's signing client.
 *
 * The key never leaves the page: it is imported as a non-extractable
 * WebCrypto key and dropped on close().
 */
export const softwareDriver: SignerDriver = {
  id: 'software',
  label: { zh: '证书文件（软件签名）', en: 'Certificate file (software signer)' },
  fields: [
    {
      name: 'keyFile',
      kind: 'file',
      accept: '.pem,.key,.p8,.p12,.pfx',
      label: { zh: '私钥文件', en: 'Key file' },
      hint: { zh: 'PKCS#8（.pem/.key）或 PKCS#12（.p12/.pfx）', en: 'PKCS#8 (.pem/.key) or PKCS#12 (.p12/.pfx)' },
    },
    {
      name: 'certificateFile',
      kind: 'file',
      accept: '.pem,.crt,.cer',
      optional: true,
      label: { zh: '证书文件', en: 'Certificate file' },
      hint: { zh: 'PKCS#8 私钥需要；PKCS#12 文件已包含证书', en: 'Needed with a PKCS#8 key; a PKCS#12 file contains it' },
    },
    { name: 'password', kind: 'password', optional: true, label: { zh: 'PKCS#12 口令', en: 'PKCS#12 password' } },
  ],
  available: async () => Boolean(globalThis.crypto?.subtle),
  open: openKeyFile,
};

const PKIX = () => import('./pkix.js');

async function openKeyFile(values: Record<string, string | File | undefined>): Promise<Signer> {
  const keyFile = values.keyFile;
  if (!(keyFile instanceof File)) throw new SignerError('KEY_FILE_INVALID', 'no key file was chosen');
  const bytes = new Uint8Array(await keyFile.arrayBuffer());
  const pkix = await PKIX();
  const text = new TextDecoder().decode(bytes);
  let keyDer: Uint8Array;
  let certificateDer: Uint8Array;
  let chainDer: Uint8Array[] = [];
  if (/-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    if (text.includes('ENCRYPTED PRIVATE KEY')) throw new SignerError('KEY_FILE_INVALID', 'encrypted PKCS#8 keys are not supported; use a PKCS#12 file or an unencrypted PKCS#8 key');
    keyDer = pkix.pemToDer(text, 'PRIVATE KEY');
    const certificateFile = values.certificateFile;
    if (!(certificateFile instanceof File)) throw new SignerError('CERTIFICATE_MISSING', 'a PKCS#8 key needs its certificate file');
    certificateDer = pkix.certificateToDer(new Uint8Array(await certificateFile.arrayBuffer()));
  } else if (/-----BEGIN (RSA |EC )PRIVATE KEY-----/.test(text)) {
    throw new SignerError('KEY_FILE_INVALID', 'this is a PKCS#1 or SEC1 key; convert it with "openssl pkcs8 -topk8 -nocrypt" or use a PKCS#12 file');
  } else {
    const opened = await pkix.openPkcs12(bytes, String(values.password ?? ''));
    keyDer = opened.key;
    certificateDer = opened.certificate;
    chainDer = opened.chain;
  }
  const algorithm = pkix.signingAlgorithm(certificateDer);
  let key: CryptoKey | undefined;
  try {
    key = await crypto.subtle.importKey('pkcs8', keyDer as BufferSource, algorithm.import, false, ['sign']);
  } catch {
    // Browsers give no useful detail here (Chromium's DOMException message is empty).
    throw new SignerError('KEY_FILE_INVALID', `the key file could not be read as the ${algorithm.import.name} private key of this certificate`);
  }
  await checkPair(key, certificateDer, algorithm, pkix);

  return {
    getCertificate: async () => ({ certificate: pkix.derToPem(certificateDer, 'CERTIFICATE'), chain: chainDer.map((der) => pkix.derToPem(der, 'CERTIFICATE')) }),
    signChallenge: async (challengeText) => {
      if (!key) throw new SignerError('KEY_FILE_INVALID', 'the key was closed');
      const signature = await crypto.subtle.sign(algorithm.sign, key, new TextEncoder().encode(challengeText));
      return { signature: pkix.toBase64(new Uint8Array(signature)), signatureFormat: 'raw' };
    },
    close: async () => {
      key = undefined;
    },
  };
}

/** Sign a probe and verify it with the certificate's public key, so a wrong key file fails here, with a clear message. */
async function checkPair(key: CryptoKey, certificateDer: Uint8Array, algorithm: ReturnType<Awaited<ReturnType<typeof PKIX>>['signingAlgorithm']>, pkix: Awaited<ReturnType<typeof PKIX>>) {
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const signature = await crypto.subtle.sign(algorithm.sign, key, probe);
  const publicKey = await crypto.subtle.importKey('spki', pkix.subjectPublicKeyInfo(certificateDer) as BufferSource, algorithm.import, false, ['verify']);
  if (!(await crypto.subtle.verify(algorithm.sign, publicKey, signature, probe))) {
    throw new SignerError('KEY_MISMATCH', 'the key file does not belong to the certificate');
  }
}
