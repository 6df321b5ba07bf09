import { REJECTION_TEXT } from '../../functions/pki/reasons.js';
import { PASSKEY_REJECTION_TEXT } from '../../functions/webauthn/reasons.js';
import { ServiceError } from './api.js';
import { h } from './dom.js';
import { tr, type Text } from './i18n.js';

/** Plain explanations of every error code a page can meet, besides the certificate and passkey rejections. */
const OTHER_TEXT: Record<string, Text> = {
  INVALID_CREDIT_CODE: { zh: '统一社会信用代码不正确，请对照营业执照检查。', en: 'The Unified Social Credit Code is wrong; check it against the business licence.' },
  ALREADY_REGISTERED: { zh: '该统一社会信用代码已经登记（可能由 CA 机构预先录入）。如果是贵单位，请直接绑定证书并完善信息。', en: 'This credit code is already registered (perhaps pre-filled by a CA). If it is yours, bind your certificate to take control and complete the record.' },
  NOT_REGISTERED: { zh: '该企业尚未登记，请先注册。', en: 'This enterprise is not registered yet; register it first.' },
  FIELD_MISSING: { zh: '有必填项没有填写。', en: 'A required field is empty.' },
  INVALID_BODY: { zh: '请求内容无法读取（不是有效的 UTF-8 JSON），请刷新页面后重试。', en: 'The request could not be read (not valid UTF-8 JSON); reload the page and try again.' },
  UNSUPPORTED_MEDIA_TYPE: { zh: '请求的内容类型不受支持，请刷新页面后重试。', en: 'The request was sent with an unsupported content type; reload the page and try again.' },
  FIELD_INVALID: { zh: '有一项填写的格式不正确，详见下方说明。', en: 'A field has an invalid value; the details are below.' },
  BODY_NOT_JSON: { zh: '请求格式不正确，请刷新页面后重试。', en: 'The request was malformed; reload the page and try again.' },
  INTERACTION_EXPIRED: { zh: '本次登录已超时或在其他浏览器中打开，请返回交易平台重新发起登录。', en: 'This sign-in has expired or was opened in another browser; go back to the platform and start again.' },
  METHOD_NOT_ALLOWED_HERE: { zh: '管理控制台只接受管理员安全密钥登录。', en: 'The admin console accepts operator security keys only.' },
  UNAUTHENTICATED: { zh: '请先登录。', en: 'Please sign in first.' },
  INVALID_TOKEN: { zh: '登录已过期，请重新登录。', en: 'Your session has expired; sign in again.' },
  INSUFFICIENT_SCOPE: { zh: '当前登录没有这项操作的权限。', en: 'This session is not allowed to do that.' },
  PORTAL_ONLY: { zh: '通行密钥只能在企业门户中管理。', en: 'Passkeys are managed in the enterprise portal only.' },
  NOT_YOUR_ENTERPRISE: { zh: '只能管理本企业的信息。', en: 'You can only manage your own enterprise.' },
  CREDENTIAL_NOT_FOUND: { zh: '找不到这个通行密钥，可能已被删除。', en: 'This passkey was not found.' },
  CREDENTIAL_REVOKED: { zh: '这个通行密钥已停用，不能修改。', en: 'This passkey has been revoked and cannot be changed.' },
  CONCURRENT_UPDATE: { zh: '信息刚被其他人修改过，请刷新后重试。', en: 'Someone else changed this just now; reload and try again.' },
  ENROLLMENT_INVALID: { zh: '这个注册链接无效、已使用或已过期，请向管理员索取新链接。', en: 'This enrollment link is invalid, used or expired; ask for a new one.' },
  CA_PROFILE_EXISTS: { zh: '已有相同标识的 CA 机构，请换一个标识，或在列表中修改已有的。', en: 'A CA profile with this identifier exists; choose another identifier or change the existing one.' },
  CA_PROFILE_CHANGED: { zh: '这个 CA 机构刚被其他管理员修改过，页面已过时。请刷新后确认再操作。', en: 'Another operator changed this CA profile just now; reload, check it and try again.' },
  CA_PROFILE_NOT_FOUND: { zh: '找不到这个 CA 机构，可能已被删除，请刷新列表。', en: 'This CA profile was not found; reload the list.' },
  ANCHOR_IN_USE: { zh: '这个根证书的公钥已属于另一个 CA 机构；一个密钥只能属于一个 CA 机构。', en: 'This anchor’s key already belongs to another CA profile; one key belongs to one profile.' },
  CRL_INVALID: { zh: 'CRL 无效：签名、有效期或格式不符合要求。', en: 'The CRL is invalid: its signature, dates or format are not acceptable.' },
  CRL_NOT_NEWER: { zh: '已保存同样新或更新的 CRL，请推送更新的 CRL。', en: 'An equally new or newer CRL is already stored; push a newer one.' },
  CLIENT_EXISTS: { zh: '这个客户端 ID 已被使用，请换一个。', en: 'This client ID is already in use; choose another.' },
  PLATFORM_CHANGED: { zh: '这个平台刚被其他管理员修改过（例如已更换密钥）。请刷新后确认再操作。', en: 'Another operator changed this platform just now (for example rotated its secret); reload, check and try again.' },
  PLATFORM_NOT_FOUND: { zh: '找不到这个平台，它可能不是通过管理控制台登记的。', en: 'This platform was not found; it may not have been registered through the console.' },
  BODY_MISSING: { zh: '请求内容为空，请刷新页面后重试。', en: 'The request was empty; reload the page and try again.' },
  BODY_TOO_LARGE: { zh: '提交的内容太大（例如证书文件过多或过大）。', en: 'The request is too large (for example too many or too large certificate files).' },
  NETWORK: { zh: '无法连接服务，请检查网络后重试。', en: 'The service cannot be reached; check the network and try again.' },
  INTERNAL: { zh: '服务内部出错，已记录，请稍后重试。', en: 'The service failed internally; it has been logged, try again later.' },
  NOT_FOUND: { zh: '该功能的接口尚未部署。', en: 'This function is not available on the server yet.' },
  invalid_scope: { zh: '该应用请求了不允许的权限。', en: 'The application requested a permission that is not allowed.' },
  // Errors of the browser's WebAuthn API (DOMException names) and of the signer drivers.
  NotAllowedError: { zh: '操作已取消或超时。请重试，并在设备提示时完成验证。', en: 'The request was cancelled or timed out. Try again and confirm on the device.' },
  InvalidStateError: { zh: '这个设备上已经有本企业的通行密钥。', en: 'This device already holds a passkey for this enterprise.' },
  SecurityError: { zh: '当前网址不能使用通行密钥，请从本服务的正式地址打开页面。', en: 'Passkeys cannot be used on this address; open the service at its official address.' },
  NotSupportedError: { zh: '此浏览器或设备不支持通行密钥。', en: 'This browser or device does not support passkeys.' },
  KEY_FILE_INVALID: {
    zh: '无法把所选文件读取为该证书的私钥。请选择与证书配套的私钥文件：PKCS#8（.pem/.key，以 -----BEGIN PRIVATE KEY----- 开头，同时选择证书文件）或 PKCS#12（.p12/.pfx，并填写口令）。',
    en: 'The key file could not be read as the private key of this certificate. Choose the key that belongs to the certificate: PKCS#8 (.pem/.key, starting with -----BEGIN PRIVATE KEY-----, together with the certificate file) or PKCS#12 (.p12/.pfx, with its password).',
  },
  PASSWORD_WRONG: { zh: 'PKCS#12 文件的口令不正确。', en: 'The PKCS#12 password is wrong.' },
  CERTIFICATE_MISSING: { zh: '缺少证书文件：PKCS#8 私钥需要同时选择证书（.pem/.cer）。', en: 'The certificate is missing: a PKCS#8 key needs its certificate file (.pem/.cer).' },
  KEY_MISMATCH: { zh: '私钥与证书不匹配。', en: 'The key does not belong to the certificate.' },
  ALGORITHM_UNSUPPORTED: { zh: '软件签名方式不支持该证书的算法（例如 SM2），请使用 CA 提供的签名客户端。', en: 'The software signer does not support this algorithm (for example SM2); use your CA’s signing client.' },
  DRIVER_UNAVAILABLE: { zh: '签名客户端没有运行或无法连接。', en: 'The signing client is not running or cannot be reached.' },
};

const ALL_TEXT: Record<string, Text> = { ...REJECTION_TEXT, ...PASSKEY_REJECTION_TEXT, ...OTHER_TEXT };

/** Return the error's stable code: a service code, a DOMException name or a signer error code. */
export function errorCode(error: unknown): string {
  if (error instanceof ServiceError) return error.code;
  const coded = error as { code?: unknown; cause?: { name?: unknown } } | null;
  if (coded && typeof coded === 'object' && typeof coded.code === 'string') {
    // @simplewebauthn/browser wraps DOMExceptions as WebAuthnError with codes like ERROR_CEREMONY_ABORTED.
    if (coded.code.startsWith('ERROR_') && typeof coded.cause?.name === 'string') return coded.cause.name;
    return coded.code;
  }
  if (error instanceof DOMException || error instanceof Error) return error.name;
  return 'INTERNAL';
}

export function explain(error: unknown): string {
  const text = ALL_TEXT[errorCode(error)] ?? (error instanceof ServiceError && error.status >= 500 ? OTHER_TEXT.INTERNAL : undefined);
  if (text) return tr(text);
  return tr({ zh: '操作失败。', en: 'The operation failed.' });
}

/** Create an alert box: the plain explanation, then the code and the technical message for support staff. */
export function errorBox(error: unknown): HTMLElement {
  const message = error instanceof Error ? error.message : String(error);
  return h(
    'div',
    { class: 'error', role: 'alert', 'data-code': errorCode(error) },
    h('p', {}, explain(error)),
    h('p', { class: 'technical' }, `${errorCode(error)}: ${message}`),
  );
}
