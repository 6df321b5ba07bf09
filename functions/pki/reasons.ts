import type * as pkijs from 'pkijs';

/**
 * Stable rejection codes for certificate checks, with a plain-language
 * explanation in Chinese and English for the login page and the portal.
 */
export const REJECTION_TEXT = {
  MALFORMED: { zh: '证书或签名格式不正确，无法解析。', en: 'The certificate or signature could not be parsed.' },
  UNTRUSTED: { zh: '证书不是由本平台认可的 CA 签发的。', en: 'The certificate was not issued by a CA that this service trusts.' },
  EXPIRED: { zh: '证书已过期，请更换新证书。', en: 'The certificate has expired; renew it with your CA.' },
  NOT_YET_VALID: { zh: '证书尚未生效。', en: 'The certificate is not valid yet.' },
  REVOKED: { zh: '证书已被吊销。', en: 'The certificate has been revoked.' },
  CERTIFICATE_ON_HOLD: { zh: '证书已被签发机构暂停（冻结），暂不能使用；解除暂停后可继续使用。', en: 'The certificate is on hold at its CA; it works again once the CA releases the hold.' },
  REVOCATION_UNKNOWN: { zh: '暂时无法确认证书是否被吊销，请稍后重试。', en: 'Revocation status cannot be established right now; try again later.' },
  CA_SUSPENDED: { zh: '该 CA 已暂停，暂不能绑定新证书；已绑定的证书仍可登录。', en: 'This CA is suspended: new bindings are refused, existing ones still work.' },
  CA_RETIRED: { zh: '该 CA 已退出，不能绑定新证书。', en: 'This CA has been retired: new bindings are refused.' },
  CA_DISTRUSTED: { zh: '该 CA 已被撤销信任，其证书不能再使用。', en: 'This CA is no longer trusted; its certificates cannot be used.' },
  KEY_USAGE: { zh: '证书的用途不允许用于登录签名。', en: 'The certificate is not allowed to sign (key usage).' },
  ALGORITHM_NOT_ALLOWED: { zh: '证书使用的算法不被该 CA 配置允许。', en: 'The certificate uses an algorithm that its CA profile does not allow.' },
  PATH_INVALID: { zh: '证书链校验失败。', en: 'The certificate chain is invalid.' },
  CREDIT_CODE_MISSING: { zh: '证书中没有统一社会信用代码。', en: 'The certificate carries no Unified Social Credit Code.' },
  CREDIT_CODE_MISMATCH: { zh: '证书中的统一社会信用代码与企业不一致。', en: 'The credit code in the certificate differs from the enterprise’s.' },
  CREDIT_CODE_INVALID: { zh: '证书中的统一社会信用代码校验位错误。', en: 'The credit code in the certificate fails its check character.' },
  SIGNATURE_INVALID: { zh: '签名验证失败：签名与挑战值或证书不匹配。', en: 'The signature does not match the challenge and certificate.' },
  CHALLENGE_INVALID: { zh: '挑战值无效、已使用或已过期，请刷新后重试。', en: 'The challenge is unknown, already used or expired; request a new one.' },
  NOT_BOUND: { zh: '该证书尚未绑定到任何企业，请先在企业门户绑定。', en: 'This certificate is not bound to an enterprise; bind it in the portal first.' },
  BINDING_REVOKED: { zh: '该证书的绑定已失效。', en: 'This certificate’s binding is no longer active.' },
} as const;

export type RejectionCode = keyof typeof REJECTION_TEXT;

/** A failed certificate check: a stable code and a message naming the certificate and rule. */
export class CertificateRejected extends Error {
  constructor(
    readonly code: RejectionCode,
    message: string,
    readonly certificate?: { subject: string; serial: string },
  ) {
    super(message);
    this.name = 'CertificateRejected';
  }

  /** The candidate path (leaf first) that broke the rule, when path validation got that far. */
  path?: pkijs.Certificate[];

  /** For REVOKED: the source of the revocation, a CRL or an OCSP response. */
  revokedVia?: 'crl' | 'ocsp';
}
