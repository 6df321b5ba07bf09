import { EVENT_TYPES } from '../../functions/lib/event-types.js';
import { callJson } from '../lib/api.js';
import { field, h, replace } from '../lib/dom.js';
import { tr, type Text } from '../lib/i18n.js';
import type { Session } from '../lib/session.js';
import { formatDate, formValue, showFormError, table } from './shared.js';

/** Plain names of the event types an operator can filter by. */
const EVENT_TYPE_TEXT: Record<string, Text> = {
  [EVENT_TYPES.enterpriseRegistered]: { zh: '企业登记', en: 'enterprise registered' },
  [EVENT_TYPES.enterpriseVerified]: { zh: '企业验证', en: 'enterprise verified' },
  [EVENT_TYPES.enterpriseUpdated]: { zh: '企业信息变更', en: 'enterprise updated' },
  [EVENT_TYPES.certificateBound]: { zh: '证书绑定', en: 'certificate bound' },
  [EVENT_TYPES.certificatesImported]: { zh: 'CA 批量导入证书', en: 'certificates imported by a CA' },
  [EVENT_TYPES.certificateRevoked]: { zh: '证书吊销', en: 'certificate revoked' },
  [EVENT_TYPES.certificateExpired]: { zh: '证书过期', en: 'certificate expired' },
  [EVENT_TYPES.credentialChange]: { zh: '通行密钥变更', en: 'passkey changed' },
  [EVENT_TYPES.sessionRevoked]: { zh: '会话终止', en: 'session revoked' },
  [EVENT_TYPES.caStatusChanged]: { zh: 'CA 状态变更', en: 'CA status changed' },
  [EVENT_TYPES.caSyncDenied]: { zh: 'CA 同步被拒', en: 'CA sync denied' },
  [EVENT_TYPES.caProfileChanged]: { zh: 'CA 配置变更', en: 'CA profile changed' },
  [EVENT_TYPES.crlPushed]: { zh: 'CRL 推送', en: 'CRL pushed' },
  [EVENT_TYPES.crlRefreshed]: { zh: 'CRL 定时更新', en: 'CRL refreshed' },
  [EVENT_TYPES.platformClientChanged]: { zh: '平台登记或换密钥', en: 'platform registered or secret rotated' },
  [EVENT_TYPES.login]: { zh: '登录', en: 'login' },
};

const typeName = (type: string) => (EVENT_TYPE_TEXT[type] ? tr(EVENT_TYPE_TEXT[type]) : type);

/** Convert a datetime-local value (the browser's local time) to ISO 8601, or undefined when empty. */
function isoTime(value: string): string | undefined {
  if (!value) return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? value : time.toISOString();
}

/** Render the audit log section: events queried by enterprise, CA, type and time, a page at a time. */
export async function auditSection(session: Session, target: HTMLElement): Promise<void> {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const results = h('div', {});
  const form = h('form', { 'aria-label': tr({ zh: '审计日志查询', en: 'Audit log query' }), novalidate: true },
    h('div', { class: 'row' },
      field(tr({ zh: '统一社会信用代码', en: 'Credit code' }), h('input', { name: 'creditCode', maxlength: 18, autocomplete: 'off' })),
      field(tr({ zh: 'CA 标识', en: 'CA identifier' }), h('input', { name: 'caId', maxlength: 63, autocomplete: 'off' })),
      field(tr({ zh: '事件类型', en: 'Event type' }), h('select', { name: 'type' },
        h('option', { value: '' }, tr({ zh: '全部', en: 'all' })),
        Object.keys(EVENT_TYPE_TEXT).map((type) => h('option', { value: type }, typeName(type))),
      )),
    ),
    h('div', { class: 'row' },
      field(tr({ zh: '开始时间（含）', en: 'From (inclusive)' }), h('input', { name: 'from', type: 'datetime-local' })),
      field(tr({ zh: '结束时间（不含）', en: 'To (exclusive)' }), h('input', { name: 'to', type: 'datetime-local' })),
      h('button', { type: 'submit', class: 'primary' }, tr({ zh: '查询', en: 'Search' })),
    ),
    h('p', { class: 'hint' }, tr({ zh: '按企业或 CA 查询时按时间排序；都不填时按事件顺序从头读取。', en: 'By enterprise or CA, events come in time order; with neither, the feed is read from its start in sequence order.' })),
    status,
  );

  const load = async (next?: string) => {
    const params = new URLSearchParams({ limit: '100' });
    for (const name of ['creditCode', 'caId', 'type']) if (formValue(form, name)) params.set(name, formValue(form, name));
    const from = isoTime(formValue(form, 'from'));
    const to = isoTime(formValue(form, 'to'));
    if (from) params.set('from', from);
    if (to) params.set('to', to);
    if (next) params.set('next', next);

    replace(status);
    let page: any;
    try {
      page = await callJson(`/api/feed/audit?${params}`, { token: session.accessToken });
    } catch (error) {
      showFormError(form, status, error);
      return;
    }

    const rows = (page.events as any[]).map((event) => [
      formatDate(event.time),
      event.seq,
      typeName(event.type),
      event.creditCode ? h('code', {}, event.creditCode) : '—',
      event.caId ? h('code', {}, event.caId) : '—',
      event.data?.actor ? h('code', {}, event.data.actor) : '—',
      h('code', {}, JSON.stringify(event.data)),
    ]);
    const more = page.next
      ? h('button', { type: 'button', class: 'secondary', onClick: () => void load(page.next) }, tr({ zh: '下一页', en: 'Next page' }))
      : null;
    replace(results,
      rows.length
        ? table(tr({ zh: '审计事件', en: 'Audit events' }), [{ zh: '时间', en: 'Time' }, { zh: '序号', en: 'Seq' }, { zh: '事件', en: 'Event' }, { zh: '企业', en: 'Enterprise' }, { zh: 'CA', en: 'CA' }, { zh: '操作人', en: 'Actor' }, { zh: '内容', en: 'Data' }], rows)
        : h('p', {}, tr({ zh: '没有符合条件的事件。', en: 'No event matches.' })),
      more,
    );
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void load();
  });
  replace(target, form, results);
  await load();
}
