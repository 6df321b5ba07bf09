import { callJson } from '../lib/api.js';
import { field, h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { tr, type Text } from '../lib/i18n.js';
import type { Session } from '../lib/session.js';
import { badge, formatDate, formValue, guarded, lines, showFormError, table } from './shared.js';

/**
 * Signature algorithms an operator can allow, as the admin API accepts them
 * (SIGNATURE_ALGORITHMS in functions/pki/trust-store.ts). The API rejects any
 * other OID, so a stale entry here fails with a plain error, not silently.
 */
const ALGORITHMS: [oid: string, name: string][] = [
  ['1.2.156.10197.1.501', 'SM2-with-SM3'],
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.113549.1.1.10', 'RSASSA-PSS'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
];

const DEFAULT_SM2_SIGNER_ID = '1234567812345678';

export const CA_STATUS_TEXT: Record<string, Text> = {
  active: { zh: '正常', en: 'active' },
  suspended: { zh: '已暂停', en: 'suspended' },
  retired: { zh: '已退出', en: 'retired' },
  distrusted: { zh: '已撤销信任', en: 'distrusted' },
};

const STATUS_TONE: Record<string, 'ok' | 'warn' | 'bad'> = { active: 'ok', suspended: 'warn' };

/** Button text for moving a profile to each status. */
const STATUS_ACTION: Record<string, Text> = {
  active: { zh: '恢复', en: 'Reactivate' },
  suspended: { zh: '暂停', en: 'Suspend' },
  retired: { zh: '退出服务', en: 'Retire' },
  distrusted: { zh: '撤销信任', en: 'Distrust' },
};

/** Effect of each status on enterprises, shown before the operator confirms. */
const STATUS_EFFECT: Record<string, Text> = {
  active: { zh: '该 CA 的证书将重新可以绑定和登录。', en: 'Certificates of this CA can bind and log in again.' },
  suspended: { zh: '暂停期间该 CA 的证书不能绑定或登录，可随时恢复。', en: 'While suspended, certificates of this CA cannot bind or log in; it can be reactivated.' },
  retired: { zh: '该 CA 不再签发新证书，其证书不能再绑定或登录。', en: 'The CA no longer takes part: its certificates can no longer bind or log in.' },
  distrusted: { zh: '该 CA 不再可信（例如密钥泄露），其证书立即失效。', en: 'The CA is no longer trusted (for example after a key compromise); its certificates stop working at once.' },
};

const base64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (byte) => String.fromCharCode(byte)).join(''));

/** Read certificate files as PEM text: PEM files as they are, DER files wrapped in PEM armour. */
async function readCertificateFiles(input: HTMLInputElement): Promise<string[]> {
  const pems: string[] = [];
  for (const file of Array.from(input.files ?? [])) {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    if (text.includes('-----BEGIN CERTIFICATE-----')) pems.push(text);
    else pems.push(`-----BEGIN CERTIFICATE-----\n${base64(bytes).replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`);
  }
  return pems;
}

/** Split pasted text holding one or more PEM certificates into separate PEM blocks. */
const pemBlocks = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? (text.trim() ? [text.trim()] : []);

function addProfileForm(onSaved: () => void, session: Session): HTMLFormElement {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const oid = h('input', { name: 'locationOid', pattern: '[0-2](\\.[0-9]+)+', placeholder: '2.5.4.5' });
  const oidField = field(tr({ zh: '属性或扩展的 OID', en: 'Attribute or extension OID' }), oid, tr({ zh: '信用代码所在的主题属性或证书扩展，例如 2.5.4.5（serialNumber）。', en: 'The subject attribute or extension that holds the credit code, for example 2.5.4.5 (serialNumber).' }));
  const location = h('select', { name: 'location' },
    h('option', { value: 'auto' }, tr({ zh: '自动查找（serialNumber、organizationIdentifier、OU、CN）', en: 'search automatically (serialNumber, organizationIdentifier, OU, CN)' })),
    h('option', { value: 'subject' }, tr({ zh: '主题中的指定属性', en: 'a subject attribute' })),
    h('option', { value: 'cn' }, tr({ zh: '主题 CN', en: 'the subject CN' })),
    h('option', { value: 'extension' }, tr({ zh: '证书扩展', en: 'a certificate extension' })),
  );
  const showOid = () => {
    oidField.hidden = location.value !== 'subject' && location.value !== 'extension';
    oid.required = !oidField.hidden;
  };
  location.addEventListener('change', showOid);

  const form = h('form', { 'aria-labelledby': 'add-ca-title', novalidate: true },
    h('h3', { id: 'add-ca-title' }, tr({ zh: '添加 CA 机构', en: 'Add a CA profile' })),
    field(tr({ zh: '标识', en: 'Identifier' }), h('input', { name: 'id', required: true, pattern: '[a-z0-9][a-z0-9\\-]{1,62}', autocomplete: 'off' }), tr({ zh: '2 到 63 个小写字母、数字和连字符，例如 gdca。', en: '2 to 63 lower-case letters, digits and hyphens, for example gdca.' })),
    field(tr({ zh: '名称', en: 'Name' }), h('input', { name: 'name', required: true, maxlength: 200 })),
    field(tr({ zh: '根证书文件', en: 'Trust anchor files' }), h('input', { name: 'anchorFiles', type: 'file', multiple: true, accept: '.pem,.crt,.cer,.der' }), tr({ zh: 'PEM 或 DER 格式的 CA 根证书，可多选。', en: 'CA root certificates in PEM or DER, one or more.' })),
    field(tr({ zh: '或粘贴根证书（PEM）', en: 'Or paste trust anchors (PEM)' }), h('textarea', { name: 'anchorText', rows: 4 })),
    field(tr({ zh: '中级 CA 证书文件（可选）', en: 'Intermediate CA files (optional)' }), h('input', { name: 'intermediateFiles', type: 'file', multiple: true, accept: '.pem,.crt,.cer,.der' })),
    h('fieldset', {},
      h('legend', {}, tr({ zh: '信用代码规则', en: 'Credit code rule' })),
      field(tr({ zh: '信用代码位置', en: 'Credit code location' }), location),
      oidField,
      field(tr({ zh: '提取用正则表达式（可选）', en: 'Extraction pattern (optional)' }), h('input', { name: 'creditCodePattern', maxlength: 200, placeholder: '^91([0-9A-Z]{16})$' }), tr({ zh: '第一个捕获组（或整个匹配）作为信用代码。', en: 'The first capture group (or the whole match) is the credit code.' })),
      h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', name: 'allowInvalidCheckCharacter' }), tr({ zh: '接受校验位错误的信用代码（将被标记）', en: 'Accept credit codes with a wrong check character (flagged)' }))),
    ),
    h('fieldset', { class: 'checks' },
      h('legend', {}, tr({ zh: '允许的签名算法', en: 'Allowed signature algorithms' })),
      ALGORITHMS.map(([value, name]) => h('label', {}, h('input', { type: 'checkbox', name: 'algorithm', value, checked: true }), `${name} (${value})`)),
    ),
    field(tr({ zh: 'SM2 签名者 ID', en: 'SM2 signer ID' }), h('input', { name: 'sm2SignerId', maxlength: 64, value: DEFAULT_SM2_SIGNER_ID }), tr({ zh: 'GM/T 0009 默认值为 1234567812345678；不使用签名者 ID 的 CA 请留空。', en: 'GM/T 0009 default is 1234567812345678; leave empty for CAs that sign without one.' })),
    h('fieldset', {},
      h('legend', {}, tr({ zh: '吊销检查', en: 'Revocation checking' })),
      h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', name: 'useCrlDistributionPoints', checked: true }), tr({ zh: '从证书的 CRL 分发点下载 CRL', en: 'Fetch CRLs from the certificates’ distribution points' }))),
      field(tr({ zh: '额外的 CRL 地址（每行一个）', en: 'Extra CRL URLs (one per line)' }), h('textarea', { name: 'crlUrls', rows: 2 })),
      field(tr({ zh: '无法获得吊销信息时', en: 'When no revocation data is available' }), h('select', { name: 'failPolicy' },
        h('option', { value: 'closed' }, tr({ zh: '拒绝（推荐）', en: 'reject (recommended)' })),
        h('option', { value: 'open' }, tr({ zh: '接受并记录', en: 'accept and log' })),
      )),
      field(
        tr({ zh: 'OCSP 响应服务地址（可选）', en: 'OCSP responder URL (optional)' }),
        h('input', { name: 'ocspUrl', type: 'url', maxlength: 2000, placeholder: 'http://ocsp.example.cn/' }),
        tr({ zh: '填写后先向该地址查询证书状态，查询失败时再使用 CRL。', en: 'When set, certificate status is asked here first; CRLs are used when it fails.' }),
      ),
      field(tr({ zh: 'OCSP CertID 摘要算法', en: 'OCSP CertID hash algorithm' }), h('select', { name: 'ocspHashAlgorithm' },
        h('option', { value: 'sha256' }, 'SHA-256'),
        h('option', { value: 'sha1' }, 'SHA-1'),
      )),
      h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', name: 'ocspNonce', checked: true }), tr({ zh: '要求 OCSP 应答回显随机数（预先生成应答的服务请取消）', en: 'Require the OCSP responder to echo a nonce (clear for pre-produced responses)' }))),
    ),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '添加', en: 'Add' })),
    status,
  );
  showOid();

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const anchors = [...(await readCertificateFiles(form.elements.namedItem('anchorFiles') as HTMLInputElement)), ...pemBlocks(formValue(form, 'anchorText'))];
    const intermediates = await readCertificateFiles(form.elements.namedItem('intermediateFiles') as HTMLInputElement);
    const source = location.value;
    const creditCodeLocation = source === 'subject' ? { source, attribute: oid.value.trim() } : source === 'extension' ? { source, oid: oid.value.trim() } : { source };
    const pattern = formValue(form, 'creditCodePattern');
    const checked = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).checked;
    const body = {
      id: formValue(form, 'id'),
      name: formValue(form, 'name'),
      anchors,
      intermediates,
      creditCodeLocation,
      ...(pattern ? { creditCodePattern: pattern } : {}),
      allowInvalidCheckCharacter: checked('allowInvalidCheckCharacter'),
      allowedSignatureAlgorithms: Array.from(form.querySelectorAll<HTMLInputElement>('input[name=algorithm]:checked'), (box) => box.value),
      sm2SignerId: (form.elements.namedItem('sm2SignerId') as HTMLInputElement).value,
      revocation: {
        useCrlDistributionPoints: checked('useCrlDistributionPoints'),
        crlUrls: lines(formValue(form, 'crlUrls')),
        failPolicy: formValue(form, 'failPolicy'),
        // The OCSP settings are sent only with a responder URL, because the API rejects them without one.
        ...(formValue(form, 'ocspUrl') ? { ocspUrl: formValue(form, 'ocspUrl'), ocspHashAlgorithm: formValue(form, 'ocspHashAlgorithm'), ocspNonce: checked('ocspNonce') } : {}),
      },
    };
    try {
      await callJson('/api/admin/ca-profiles', { body, token: session.accessToken });
      onSaved();
    } catch (error) {
      showFormError(form, status, error, {
        anchors: 'anchorFiles',
        intermediates: 'intermediateFiles',
        'creditCodeLocation.attribute': 'locationOid',
        'creditCodeLocation.oid': 'locationOid',
        allowedSignatureAlgorithms: 'algorithm',
        'revocation.crlUrls': 'crlUrls',
        'revocation.ocspUrl': 'ocspUrl',
        'revocation.ocspHashAlgorithm': 'ocspHashAlgorithm',
      });
    }
  });
  return form;
}

/**
 * Build the inline form that confirms a status change with a reason. It sends
 * the version the operator saw, so a change made meanwhile is reported, not overwritten.
 */
function statusChangeForm(profile: any, next: string, session: Session, onDone: () => void, onCancel: () => void): HTMLFormElement {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const reason = h('input', { name: 'reason', maxlength: 500, required: next !== 'active' });
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'status-change-title', novalidate: true },
    h('h3', { id: 'status-change-title' }, tr({ zh: '{action}：{name}', en: '{action}: {name}' }, { action: tr(STATUS_ACTION[next]), name: `${profile.name} (${profile.id})` })),
    h('p', {}, tr(STATUS_EFFECT[next])),
    field(tr({ zh: '原因', en: 'Reason' }), reason, tr({ zh: '记入审计日志，并通知各交易平台。', en: 'Recorded in the audit log and sent to the platforms.' })),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: next === 'active' ? 'primary' : 'danger' }, tr({ zh: '确认', en: 'Confirm' })),
      h('button', { type: 'button', class: 'secondary', onClick: onCancel }, tr({ zh: '取消', en: 'Cancel' })),
    ),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (next !== 'active' && !reason.value.trim()) {
      reason.setAttribute('aria-invalid', 'true');
      replace(status, h('p', { class: 'error', role: 'alert' }, tr({ zh: '请填写原因。', en: 'Give a reason.' })));
      reason.focus();
      return;
    }
    try {
      await callJson(`/api/admin/ca-profiles/${encodeURIComponent(profile.id)}/status`, {
        body: { status: next, reason: reason.value.trim() || undefined, version: profile.version },
        token: session.accessToken,
      });
      onDone();
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  return form;
}

/** Render the CA profiles section: the trust store's profiles with their status actions, and the form to add one. */
export async function caProfilesSection(session: Session, target: HTMLElement): Promise<void> {
  const reload = () => void caProfilesSection(session, target);
  const panel = h('div', {});
  await guarded(target, async () => {
    const { profiles } = await callJson('/api/admin/ca-profiles', { token: session.accessToken });
    const rows = (profiles as any[]).map((profile) => {
      const actions = ['suspended', 'retired', 'distrusted', 'active'].filter((next) => next !== profile.status).map((next) =>
        h('button', {
          type: 'button',
          class: next === 'active' ? 'secondary' : 'danger',
          'aria-label': `${tr(STATUS_ACTION[next])} ${profile.name} (${profile.id})`,
          onClick: () => {
            const form = statusChangeForm(profile, next, session, reload, () => replace(panel));
            replace(panel, form);
            form.querySelector('input')?.focus();
          },
        }, tr(STATUS_ACTION[next])),
      );
      const tone = STATUS_TONE[profile.status] ?? 'bad';
      return [
        h('code', {}, profile.id),
        profile.name,
        h('span', {}, badge(tr(CA_STATUS_TEXT[profile.status] ?? { zh: profile.status, en: profile.status }), tone), profile.statusReason ? h('span', { class: 'hint' }, ` ${profile.statusReason}`) : null),
        h('span', {}, (profile.anchorKeys as string[]).map((key) => h('code', { title: key }, `${key.slice(0, 16)}…`)).flatMap((node, i) => (i ? [' ', node] : [node]))),
        `${profile.version} · ${formatDate(profile.updatedAt)}`,
        h('span', { class: 'row' }, actions),
      ];
    });
    return [
      profiles.length
        ? table(tr({ zh: 'CA 机构列表', en: 'CA profiles' }), [{ zh: '标识', en: 'Identifier' }, { zh: '名称', en: 'Name' }, { zh: '状态', en: 'Status' }, { zh: '根证书公钥（SHA-256）', en: 'Anchor keys (SHA-256)' }, { zh: '版本 · 更新时间', en: 'Version · updated' }, { zh: '操作', en: 'Actions' }], rows)
        : h('p', {}, tr({ zh: '还没有 CA 机构。', en: 'No CA profile yet.' })),
      panel,
      addProfileForm(reload, session),
    ];
  });
}
