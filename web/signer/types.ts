/**
 * The browser-side signer interface. Chinese enterprise certificates usually
 * live on USB keys that each CA drives through its own local signing client.
 * A driver adapts one such client (or a key file) to this interface, so the
 * pages use only the interface. Drivers register in registry.ts.
 *
 * A driver's job is two operations on one key:
 *   getCertificate()   the signing certificate (PEM) and any intermediates
 *   signChallenge(t)   a signature over the exact UTF-8 bytes of t, base64
 *
 * Accepted signatures (checked by the service): RSA PKCS#1 v1.5 or PSS with
 * SHA-256; ECDSA with the curve's hash, DER or IEEE P1363 (r||s) encoded.
 */

/** An input that a driver needs before it can open the key, which the page renders as a labelled control. */
export interface SignerField {
  name: string;
  kind: 'file' | 'password' | 'text';
  label: { zh: string; en: string };
  hint?: { zh: string; en: string };
  /** File types offered by the file chooser, e.g. ".pem,.key,.p12". */
  accept?: string;
  optional?: boolean;
}

/** A key that is open and ready to sign. */
export interface Signer {
  getCertificate(): Promise<{ certificate: string; chain: string[] }>;
  signChallenge(text: string): Promise<{ signature: string; signatureFormat: 'raw' }>;
  /** Release the key (log out of the USB key, forget the key file). */
  close(): Promise<void>;
}

export interface SignerDriver {
  /** Stable identifier, e.g. "software" or "cfca-client". */
  id: string;
  label: { zh: string; en: string };
  fields: SignerField[];
  /** Report whether the driver can work here (for example, whether its local client answers). */
  available(): Promise<boolean>;
  /** Open the key with the values of `fields`; rejects with SignerError. */
  open(values: Record<string, string | File | undefined>): Promise<Signer>;
}

export type SignerErrorCode = 'KEY_FILE_INVALID' | 'PASSWORD_WRONG' | 'CERTIFICATE_MISSING' | 'KEY_MISMATCH' | 'ALGORITHM_UNSUPPORTED' | 'DRIVER_UNAVAILABLE';

/** A failure of a driver, with a stable code that the pages explain in plain words. */
export class SignerError extends Error {
  constructor(
    readonly code: SignerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SignerError';
  }
}
