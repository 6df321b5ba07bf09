import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { sm2, sm3 } from 'sm-crypto-v2';
import { parseCertificate } from '../../functions/pki/der.js';
import { ALGORITHM_OID } from '../../functions/pki/signature.js';
import { signArgs, type KeyAlgorithm } from '../../infra/local/openssl-ca.js';

const run = promisify(execFile);

/** Sign `text` with the openssl CLI as a signing client would: a raw signature, DER for ECDSA and SM2 (SM3, default signer ID). */
export async function signRaw(keyPem: string, text: string, algorithm: KeyAlgorithm): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tif-sign-'));
  await writeFile(join(dir, 'key.pem'), keyPem);
  await writeFile(join(dir, 'message'), text);
  const digest = signArgs(algorithm);
  await run('openssl', ['dgst', ...digest, '-sign', join(dir, 'key.pem'), '-out', join(dir, 'signature'), join(dir, 'message')]);
  return (await readFile(join(dir, 'signature'))).toString('base64');
}

/** A detached CMS SignedData over `text` made by `openssl cms -sign` (RSA and ECDSA; OpenSSL 3.0 cannot sign SM2 CMS). */
export async function signCmsWithOpenssl(certPem: string, keyPem: string, text: string, digest = 'sha256'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tif-cms-'));
  await writeFile(join(dir, 'cert.pem'), certPem);
  await writeFile(join(dir, 'key.pem'), keyPem);
  await writeFile(join(dir, 'message'), text);
  await run('openssl', ['cms', '-sign', '-binary', '-in', join(dir, 'message'), '-signer', join(dir, 'cert.pem'), '-inkey', join(dir, 'key.pem'), '-md', digest, '-outform', 'DER', '-out', join(dir, 'signature.p7s')]);
  return (await readFile(join(dir, 'signature.p7s'))).toString('base64');
}

/**
 * A detached CMS SignedData over `text` signed with an SM2 key, as Chinese
 * signing clients produce it: SM3 digest, signed attributes, signature
 * algorithm SM2-with-SM3 (default signer ID). Built with pkijs and signed with
 * sm-crypto-v2, because OpenSSL 3.0 fails to produce SM2 CMS.
 */
export async function signCmsSm2(certPem: string, keyPem: string, text: string): Promise<string> {
  const cert = parseCertificate(certPem);
  const privateHex = sm2PrivateKeyHex(keyPem);
  const message = new TextEncoder().encode(text);
  const digest = Buffer.from(sm3(message), 'hex');
  const signedAttrs = new pkijs.SignedAndUnsignedAttributes({
    type: 0,
    attributes: [
      new pkijs.Attribute({ type: '1.2.840.113549.1.9.3', values: [new asn1js.ObjectIdentifier({ value: '1.2.840.113549.1.7.1' })] }),
      new pkijs.Attribute({ type: '1.2.840.113549.1.9.4', values: [new asn1js.OctetString({ valueHex: digest })] }),
    ],
  });
  const attrsDer = new Uint8Array(new asn1js.Set({ value: signedAttrs.attributes.map((a) => a.toSchema()) }).toBER(false));
  const signatureHex = sm2.doSignature(attrsDer, privateHex, { hash: true, der: true, userId: '1234567812345678' });
  signedAttrs.encodedValue = attrsDer.buffer;
  const signerInfo = new pkijs.SignerInfo({
    version: 1,
    sid: new pkijs.IssuerAndSerialNumber({ issuer: cert.issuer, serialNumber: cert.serialNumber }),
    digestAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm3 }),
    signedAttrs,
    signatureAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm2WithSm3 }),
    signature: new asn1js.OctetString({ valueHex: Buffer.from(signatureHex, 'hex') }),
  });
  const signedData = new pkijs.SignedData({
    version: 1,
    digestAlgorithms: [new pkijs.AlgorithmIdentifier({ algorithmId: ALGORITHM_OID.sm3 })],
    encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: '1.2.840.113549.1.7.1' }),
    signerInfos: [signerInfo],
  });
  const contentInfo = new pkijs.ContentInfo({ contentType: '1.2.840.113549.1.7.2', content: signedData.toSchema(true) });
  return Buffer.from(contentInfo.toSchema().toBER(false)).toString('base64');
}

/** The private scalar of an SM2 key as hex, read from its PKCS#8 PEM. */
function sm2PrivateKeyHex(keyPem: string): string {
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  // PrivateKeyInfo ::= SEQUENCE { version, privateKeyAlgorithm, privateKey OCTET STRING (an ECPrivateKey) }
  const pkcs8 = asn1js.fromBER(new Uint8Array(der)).result as asn1js.Sequence;
  const privateKey = pkcs8.valueBlock.value[2] as asn1js.OctetString;
  const ecPrivateKey = asn1js.fromBER(privateKey.valueBlock.valueHexView).result as asn1js.Sequence;
  const scalar = (ecPrivateKey.valueBlock.value[1] as asn1js.OctetString).valueBlock.valueHexView;
  return Buffer.from(scalar).toString('hex').padStart(64, '0');
}

/** An HTTP server on 127.0.0.1 that serves CRLs by path; `set` replaces what a path returns. */
export async function startCrlServer(): Promise<{ url: (path: string) => string; set: (path: string, body: Uint8Array) => void; hits: (path: string) => number; stop: () => Promise<void> }> {
  const bodies = new Map<string, Uint8Array>();
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const body = bodies.get(path);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(Buffer.from(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    set: (path, body) => bodies.set(path, body),
    hits: (path) => counts.get(path) ?? 0,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
