import type * as pkijs from 'pkijs';
import { parseCertificates } from './der.js';
import { spkiHash } from './certificate.js';
import { nameKey } from './names.js';

export type CaStatus = 'active' | 'suspended' | 'retired' | 'distrusted';

/**
 * Where a CA puts the 18-character credit code in its certificates.
 * `auto` searches subject serialNumber, organizationIdentifier, OU and then CN.
 */
export type CreditCodeLocation =
  | { source: 'auto' }
  | { source: 'subject'; attribute: string }
  | { source: 'cn' }
  | { source: 'extension'; oid: string };

export interface RevocationPolicy {
  /** Fetch CRLs from the certificates' CRL distribution points. */
  useCrlDistributionPoints: boolean;
  /** Extra CRL URLs for this CA, for example when its certificates name none. */
  crlUrls: string[];
  /** OCSP responder URL, when the CA runs one. Its response is used before CRLs. */
  ocspUrl?: string;
  /** Hash algorithm of the CertID in OCSP requests, as the responder requires (default sha256). */
  ocspHashAlgorithm?: 'sha256' | 'sha1';
  /** Whether the responder echoes request nonces (default true); when false, responses without the nonce are accepted. */
  ocspNonce?: boolean;
  /** Maximum age in seconds of an OCSP response that has no nextUpdate (default 3600). */
  ocspMaxAgeSeconds?: number;
  /** closed: refuse when no fresh revocation data is available; open: accept and log. */
  failPolicy: 'closed' | 'open';
}

export interface CaProfile {
  id: string;
  name: string;
  status: CaStatus;
  statusReason?: string;
  /** Trust anchors, PEM; identified by the SHA-256 of their SubjectPublicKeyInfo. */
  anchors: string[];
  /** Intermediate CA certificates, PEM, used to complete chains sent without them. */
  intermediates: string[];
  /** Signature algorithm OIDs accepted anywhere in this CA's paths. */
  allowedSignatureAlgorithms: string[];
  creditCodeLocation: CreditCodeLocation;
  /** Regular expression whose first capture group (or whole match) is the code, applied after locating. */
  creditCodePattern?: string;
  /** SM2 signer ID (GM/T 0009 default 1234567812345678); empty for CAs that sign without one. */
  sm2SignerId: string;
  /** Accepted RSA modulus sizes in bits, anywhere in the path; 2048 to 4096 when absent. */
  rsaKeyBits?: { min: number; max: number };
  /** Extended key usages accepted on end-entity certificates besides clientAuth and anyExtendedKeyUsage. */
  acceptedExtendedKeyUsages: string[];
  /** Accept certificates whose credit code fails its check character (flagged). */
  allowInvalidCheckCharacter: boolean;
  revocation: RevocationPolicy;
  version: number;
  updatedAt: string;
}

export const SIGNATURE_ALGORITHMS: Record<string, string> = {
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.156.10197.1.501': 'SM2-with-SM3',
};

export const DEFAULT_SIGNATURE_ALGORITHMS = Object.keys(SIGNATURE_ALGORITHMS);

export function defaultProfile(id: string, name: string, anchors: string[]): CaProfile {
  return {
    id,
    name,
    status: 'active',
    anchors,
    intermediates: [],
    allowedSignatureAlgorithms: DEFAULT_SIGNATURE_ALGORITHMS,
    creditCodeLocation: { source: 'auto' },
    sm2SignerId: '1234567812345678',
    acceptedExtendedKeyUsages: [],
    allowInvalidCheckCharacter: false,
    revocation: { useCrlDistributionPoints: true, crlUrls: [], failPolicy: 'closed' },
    version: 1,
    updatedAt: new Date().toISOString(),
  };
}

export interface TrustedCertificate {
  cert: pkijs.Certificate;
  profile: CaProfile;
  isAnchor: boolean;
  spkiHash: string;
}

/** The parsed, indexed form of all CA profiles: what path building searches. */
export class TrustStore {
  readonly anchorsBySpki = new Map<string, TrustedCertificate>();
  /** CA certificates by the comparison key of their subject name (see nameKey). */
  readonly bySubject = new Map<string, TrustedCertificate[]>();
  readonly profiles = new Map<string, CaProfile>();

  constructor(profiles: CaProfile[], readonly version = 0) {
    for (const profile of profiles) {
      this.profiles.set(profile.id, profile);
      const add = (pem: string, isAnchor: boolean) => {
        for (const cert of parseCertificates(pem, `CA profile ${profile.id} ${isAnchor ? 'anchor' : 'intermediate'}`)) {
          const entry: TrustedCertificate = { cert, profile, isAnchor, spkiHash: spkiHash(cert) };
          if (isAnchor) this.anchorsBySpki.set(entry.spkiHash, entry);
          const key = nameKey(cert.subject);
          this.bySubject.set(key, [...(this.bySubject.get(key) ?? []), entry]);
        }
      };
      profile.anchors.forEach((pem) => add(pem, true));
      profile.intermediates.forEach((pem) => add(pem, false));
    }
  }
}
