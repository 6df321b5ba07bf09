import { ApiError } from '../lib/errors.js';

/**
 * Stable rejection codes for passkey (WebAuthn) ceremonies, with a plain
 * explanation in Chinese and English for the login page and the portal.
 */
export const PASSKEY_REJECTION_TEXT = {
  PASSKEY_RESPONSE_INVALID: { zh: '通行密钥返回的数据不完整或格式不正确。', en: 'The passkey response is incomplete or malformed.' },
  PASSKEY_ORIGIN_INVALID: { zh: '通行密钥是在其他网站地址上使用的，请从本服务的正式地址打开页面。', en: 'The passkey was used on another web address; open this service at its official address.' },
  PASSKEY_RP_ID_INVALID: { zh: '通行密钥属于其他网站，不能用于本服务。', en: 'The passkey belongs to another site.' },
  PASSKEY_CHALLENGE_INVALID: { zh: '本次验证已过期或已使用，请重新点击按钮。', en: 'This request expired or was already used; press the button again.' },
  PASSKEY_USER_NOT_VERIFIED: { zh: '设备没有验证您的身份（指纹、面容或 PIN），请在设备上完成验证。', en: 'The device did not verify you (fingerprint, face or PIN); complete the check on the device.' },
  PASSKEY_SIGNATURE_INVALID: { zh: '通行密钥签名验证失败。', en: 'The passkey signature does not verify.' },
  PASSKEY_AUTHENTICATOR_NOT_ALLOWED: { zh: '本服务不接受这种型号的安全密钥或设备。', en: 'This model of security key or device is not accepted here.' },
  PASSKEY_UNKNOWN: { zh: '这个通行密钥没有在本服务登记，请先用数字证书登录后在企业门户添加。', en: 'This passkey is not registered here; sign in with a certificate and add it in the portal first.' },
  PASSKEY_REVOKED: { zh: '这个通行密钥已被停用。', en: 'This passkey has been revoked.' },
  PASSKEY_COUNTER_REGRESSION: { zh: '检测到该通行密钥可能被复制，已拒绝登录并记录，请联系管理员。', en: 'This passkey may have been cloned (its counter went back); the sign-in was rejected and logged.' },
  PASSKEY_ALREADY_REGISTERED: { zh: '这个通行密钥已经登记过了。', en: 'This passkey is already registered.' },
  PASSKEY_NO_ACTIVE_CERTIFICATE: { zh: '企业目前没有有效的数字证书，通行密钥暂停使用；请先用新证书登录并绑定。', en: 'The enterprise has no valid certificate, so its passkeys are paused; sign in with a renewed certificate first.' },
  PASSKEY_NOT_ALLOWED_HERE: { zh: '该平台要求使用数字证书登录（例如投标签章），不能使用通行密钥。', en: 'This platform requires a certificate sign-in (for example to sign a bid); passkeys are not accepted.' },
  PASSKEY_WRONG_ACCOUNT_KIND: { zh: '这个通行密钥不能用于登录此应用。', en: 'This passkey cannot be used to sign in to this application.' },
  CERTIFICATE_LOGIN_REQUIRED: { zh: '添加通行密钥前需要在几分钟内用数字证书重新登录。', en: 'Adding a passkey needs a certificate sign-in within the last few minutes.' },
} as const;

export type PasskeyRejectionCode = keyof typeof PASSKEY_REJECTION_TEXT;

/** A failed passkey check: a stable code and a message naming the value and rule. */
export class PasskeyRejected extends Error {
  constructor(
    readonly code: PasskeyRejectionCode,
    message: string,
    readonly status = 422,
  ) {
    super(message);
    this.name = 'PasskeyRejected';
  }
}

/** Convert a passkey rejection into the API error that carries its code and bilingual text. */
export function passkeyError(error: PasskeyRejected): ApiError {
  return new ApiError(error.status, error.code, error.message, { explanation: PASSKEY_REJECTION_TEXT[error.code] });
}

/** Run `work` and turn a passkey rejection it throws into the API error for it. */
export async function withPasskeyErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof PasskeyRejected) throw passkeyError(error);
    throw error;
  }
}
