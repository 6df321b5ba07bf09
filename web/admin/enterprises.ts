import { callJson } from '../lib/api.js';
import { field, h } from '../lib/dom.js';
import { tr, type Text } from '../lib/i18n.js';
import type { Session } from '../lib/session.js';
import { badge, formatDate, guarded, table } from './shared.js';

const ENTERPRISE_STATUS_TEXT: Record<string, Text> = {
  verified: { zh: '已验证', en: 'verified' },
  unverified: { zh: '未验证', en: 'unverified' },
};

const ITEM_STATUS_TEXT: Record<string, Text> = {
  active: { zh: '有效', en: 'active' },
  revoked: { zh: '已吊销', en: 'revoked' },
  expired: { zh: '已过期', en: 'expired' },
};

const STATUS_TONE: Record<string, 'ok' | 'warn' | 'bad'> = { active: 'ok', verified: 'ok', unverified: 'warn' };
const statusBadge = (status: string, texts: Record<string, Text>) => badge(tr(texts[status] ?? { zh: status, en: status }), STATUS_TONE[status] ?? 'bad');

/** Show one enterprise read-only: its record, bound certificates and passkeys. */
async function showEnterprise(session: Session, creditCode: string, target: HTMLElement): Promise<void> {
  await guarded(target, async () => {
    const enterprise = await callJson(`/api/admin/enterprises/${encodeURIComponent(creditCode)}`, { token: session.accessToken });
    const certificates = (enterprise.certificates as any[]).map((cert) => [
      cert.subject,
      h('code', {}, cert.caId),
      h('code', {}, cert.serial),
      `${formatDate(cert.notBefore)} – ${formatDate(cert.notAfter)}`,
      h('span', {}, statusBadge(cert.status, ITEM_STATUS_TEXT), cert.revocationReason ? h('span', { class: 'hint' }, ` ${cert.revocationReason}`) : null),
      formatDate(cert.boundAt),
    ]);
    const passkeys = (enterprise.passkeys as any[]).map((passkey) => [
      passkey.displayName,
      `${passkey.holderName} · ${passkey.holderRole}`,
      statusBadge(passkey.status, ITEM_STATUS_TEXT),
      formatDate(passkey.createdAt),
      formatDate(passkey.lastUsedAt),
    ]);
    return [
      h('h3', { id: 'enterprise-title', tabindex: -1 }, `${enterprise.name ?? '—'} · ${enterprise.creditCode}`),
      h('p', {}, statusBadge(enterprise.status, ENTERPRISE_STATUS_TEXT), ' ', tr({ zh: '登记于 {registered}，验证于 {verified}，版本 {version}', en: 'registered {registered}, verified {verified}, version {version}' }, {
        registered: formatDate(enterprise.registeredAt),
        verified: formatDate(enterprise.verifiedAt),
        version: enterprise.version,
      })),
      h('h4', {}, tr({ zh: '已绑定证书', en: 'Bound certificates' })),
      certificates.length
        ? table(tr({ zh: '已绑定证书', en: 'Bound certificates' }), [{ zh: '主题', en: 'Subject' }, { zh: 'CA', en: 'CA' }, { zh: '序列号', en: 'Serial' }, { zh: '有效期', en: 'Validity' }, { zh: '状态', en: 'Status' }, { zh: '绑定时间', en: 'Bound' }], certificates)
        : h('p', {}, tr({ zh: '没有绑定证书。', en: 'No certificate is bound.' })),
      h('h4', {}, tr({ zh: '通行密钥', en: 'Passkeys' })),
      passkeys.length
        ? table(tr({ zh: '通行密钥', en: 'Passkeys' }), [{ zh: '名称', en: 'Name' }, { zh: '持有人 · 职务', en: 'Holder · role' }, { zh: '状态', en: 'Status' }, { zh: '添加时间', en: 'Added' }, { zh: '最近使用', en: 'Last used' }], passkeys)
        : h('p', {}, tr({ zh: '没有通行密钥。', en: 'No passkey.' })),
    ];
  });
  target.querySelector<HTMLElement>('#enterprise-title')?.focus();
}

/** Render the enterprise search section: find by credit code or name prefix, then open one read-only. */
export async function enterprisesSection(session: Session, target: HTMLElement): Promise<void> {
  const results = h('div', { role: 'status', 'aria-live': 'polite' });
  const detail = h('div', {});
  const query = h('input', { name: 'q', type: 'search', required: true, maxlength: 100 });
  const form = h('form', { role: 'search', class: 'row' },
    field(tr({ zh: '统一社会信用代码或企业名称开头', en: 'Credit code or the start of the name' }), query),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '查询', en: 'Search' })),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    detail.replaceChildren();
    await guarded(results, async () => {
      const found = await callJson(`/api/admin/enterprises?q=${encodeURIComponent(query.value.trim())}`, { token: session.accessToken });
      if (found.enterprises.length === 0) {
        return [
          h('p', {}, tr({ zh: '没有找到匹配的企业。', en: 'No enterprise matches.' })),
          // The service sets a hint when the query looks like part of a credit code, which only the whole code finds.
          found.hint ? h('p', { class: 'hint' }, tr({ zh: '没有以此开头的企业名称。按信用代码查询时，请输入完整的 18 位代码。', en: 'No name starts with this. To find an enterprise by credit code, enter all 18 characters.' })) : null,
        ];
      }
      const rows = (found.enterprises as any[]).map((enterprise) => [
        h('code', {}, enterprise.creditCode),
        enterprise.name ?? '—',
        statusBadge(enterprise.status, ENTERPRISE_STATUS_TEXT),
        formatDate(enterprise.registeredAt),
        h('button', {
          type: 'button',
          class: 'secondary',
          'aria-label': `${tr({ zh: '查看', en: 'Show' })} ${enterprise.name ?? enterprise.creditCode}`,
          onClick: () => void showEnterprise(session, enterprise.creditCode, detail),
        }, tr({ zh: '查看', en: 'Show' })),
      ]);
      return [
        table(tr({ zh: '查询结果', en: 'Search results' }), [{ zh: '信用代码', en: 'Credit code' }, { zh: '名称', en: 'Name' }, { zh: '状态', en: 'Status' }, { zh: '登记时间', en: 'Registered' }, { zh: '详情', en: 'Details' }], rows),
        found.truncated ? h('p', { class: 'hint' }, tr({ zh: '只显示前 {count} 个结果，请输入更长的名称。', en: 'Only the first {count} results are shown; type more of the name.' }, { count: rows.length })) : null,
      ];
    });
  });
  target.replaceChildren(form, results, detail);
}
