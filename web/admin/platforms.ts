import { callJson } from '../lib/api.js';
import { field, h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { tr, type Text } from '../lib/i18n.js';
import type { Session } from '../lib/session.js';
import { badge, formatDate, formValue, guarded, lines, showFormError, table } from './shared.js';

const DELIVERY_STATUS_TEXT: Record<string, Text> = {
  active: { zh: '正常', en: 'active' },
  failing: { zh: '投递失败，重试中', en: 'failing, retrying' },
  rejecting: { zh: '接收方拒收事件', en: 'receiver rejects events' },
  'dead-letter': { zh: '已停止（需重放）', en: 'stopped (needs a replay)' },
};

const DELIVERY_TONE: Record<string, 'ok' | 'warn' | 'bad'> = { active: 'ok', failing: 'warn' };

/** Delivery state of one feed consumer in plain words: status, backlog, counts and the last error. */
function deliverySummary(delivery: any): HTMLElement {
  const tone = DELIVERY_TONE[delivery.status] ?? 'bad';
  return h('div', {},
    badge(tr(DELIVERY_STATUS_TEXT[delivery.status] ?? { zh: delivery.status, en: delivery.status }), tone),
    h('p', { class: 'hint' }, tr({ zh: '待投递 {behind} 条 · 已投递 {delivered} · 被拒 {rejected} · 最近投递 {last}', en: '{behind} behind · {delivered} delivered · {rejected} rejected · last delivered {last}' }, {
      behind: delivery.behind,
      delivered: delivery.delivered,
      rejected: delivery.rejected,
      last: formatDate(delivery.lastDeliveredAt),
    })),
    delivery.lastError ? h('p', { class: 'hint' }, tr({ zh: '最近错误：{error}', en: 'Last error: {error}' }, { error: delivery.lastError })) : null,
    delivery.status === 'rejecting' && delivery.lastRejection
      ? h('p', { class: 'hint' }, tr({ zh: '最近被拒（第 {seq} 号事件）：{error}', en: 'Last rejection (event {seq}): {error}' }, { seq: delivery.lastRejection.seq, error: delivery.lastRejection.error }))
      : null,
  );
}

/**
 * Show a new client secret once, with the client id. It lives only in this
 * box: nothing stores or logs it, and hiding the box removes it from the page.
 */
function secretNotice(target: HTMLElement, result: any): void {
  const notice = h('div', { class: 'success', role: 'alert' },
    h('p', {}, tr({ zh: '平台“{name}”的客户端密钥只显示这一次，请立即通过安全渠道交给平台：', en: 'The client secret of “{name}” is shown only now; hand it to the platform over a secure channel:' }, { name: result.client_name })),
    h('p', {}, tr({ zh: '客户端 ID：', en: 'Client ID: ' }), h('code', {}, result.client_id)),
    h('p', {}, tr({ zh: '客户端密钥：', en: 'Client secret: ' }), h('code', { class: 'secret', 'data-testid': 'client-secret' }, result.client_secret)),
    h('button', { type: 'button', class: 'secondary', onClick: () => replace(target) }, tr({ zh: '已保存，隐藏密钥', en: 'Saved; hide the secret' })),
  );
  replace(target, notice);
}

function registerForm(session: Session, secretTarget: HTMLElement, onSaved: () => Promise<void>): HTMLFormElement {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h('form', { 'aria-labelledby': 'add-client-title', novalidate: true },
    h('h3', { id: 'add-client-title' }, tr({ zh: '登记交易平台', en: 'Register a platform' })),
    field(tr({ zh: '客户端 ID', en: 'Client ID' }), h('input', { name: 'client_id', required: true, pattern: '[a-z0-9][a-z0-9\\-]{1,62}', autocomplete: 'off' }), tr({ zh: '2 到 63 个小写字母、数字和连字符，例如 land-trading。', en: '2 to 63 lower-case letters, digits and hyphens, for example land-trading.' })),
    field(tr({ zh: '平台名称', en: 'Platform name' }), h('input', { name: 'client_name', required: true, maxlength: 100 }), tr({ zh: '企业在登录页看到的名称。', en: 'The name enterprises see on the login page.' })),
    field(tr({ zh: '回调地址（每行一个）', en: 'Redirect URIs (one per line)' }), h('textarea', { name: 'redirect_uris', required: true, rows: 2 }), tr({ zh: 'https 地址，平台在此接收登录结果。', en: 'https URLs where the platform receives the login response.' })),
    field(tr({ zh: '后台注销地址（可选）', en: 'Back-channel logout URI (optional)' }), h('input', { name: 'backchannel_logout_uri', type: 'url' }), tr({ zh: '企业证书被吊销时，服务向此地址发送 OIDC 注销通知。', en: 'The service sends an OIDC logout token here when an enterprise’s session ends.' })),
    field(tr({ zh: '事件推送地址（可选）', en: 'Push endpoint (optional)' }), h('input', { name: 'push_endpoint', type: 'url' }), tr({ zh: '接收变更事件（SET）的 https 地址；填写后平台自动获得 feed:read 权限。', en: 'https URL that receives change events (SETs); setting one also grants feed:read.' })),
    h('div', { class: 'checks' }, h('label', {}, h('input', { type: 'checkbox', name: 'uses_feed' }), tr({ zh: '平台拉取变更事件（授予 feed:read）', en: 'The platform pulls change events (grants feed:read)' }))),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '登记', en: 'Register' })),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const optional = (name: string) => formValue(form, name) || undefined;
    const body = {
      client_id: formValue(form, 'client_id'),
      client_name: formValue(form, 'client_name'),
      redirect_uris: lines(formValue(form, 'redirect_uris')),
      backchannel_logout_uri: optional('backchannel_logout_uri'),
      push_endpoint: optional('push_endpoint'),
      uses_feed: (form.elements.namedItem('uses_feed') as HTMLInputElement).checked,
    };
    try {
      const result = await callJson('/api/admin/clients', { body, token: session.accessToken });
      await onSaved();
      secretNotice(secretTarget, result);
      secretTarget.focus();
    } catch (error) {
      showFormError(form, status, error);
    }
  });
  return form;
}

/** Build the inline confirmation for a secret rotation; it sends the version the operator saw. */
function rotateForm(platform: any, session: Session, secretTarget: HTMLElement, onDone: () => Promise<void>, onCancel: () => void): HTMLFormElement {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'inline-form', 'aria-labelledby': 'rotate-title' },
    h('h3', { id: 'rotate-title' }, tr({ zh: '更换密钥：{name}', en: 'Rotate the secret: {name}' }, { name: platform.client_name })),
    h('p', {}, tr({ zh: '旧密钥将在几秒内失效，平台需要改用新密钥后才能继续换取令牌。', en: 'The old secret stops working within seconds; the platform needs the new one to obtain tokens.' })),
    h('div', { class: 'row' },
      h('button', { type: 'submit', class: 'danger' }, tr({ zh: '确认更换', en: 'Rotate' })),
      h('button', { type: 'button', class: 'secondary', onClick: onCancel }, tr({ zh: '取消', en: 'Cancel' })),
    ),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const result = await callJson(`/api/admin/clients/${encodeURIComponent(platform.client_id)}/secret`, { body: { version: platform.version }, token: session.accessToken });
      await onDone();
      secretNotice(secretTarget, result);
      secretTarget.focus();
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  return form;
}

/** Render the platform clients section: registered platforms with push delivery, secret rotation, registration, and every feed consumer. */
export async function platformsSection(session: Session, target: HTMLElement, secretTarget = h('div', { tabindex: -1 })): Promise<void> {
  const reload = () => platformsSection(session, target, secretTarget);
  const panel = h('div', {});
  await guarded(target, async () => {
    const [{ clients }, deliveries] = await Promise.all([
      callJson('/api/admin/clients', { token: session.accessToken }),
      callJson('/api/feed/deliveries', { token: session.accessToken }),
    ]);
    const rows = (clients as any[]).map((platform) => [
      h('span', {}, platform.client_name, h('br', {}), h('code', {}, platform.client_id)),
      h('span', {}, (platform.redirect_uris as string[]).flatMap((uri, i) => [i ? h('br', {}) : null, h('code', {}, uri)])),
      h('code', {}, platform.scope),
      platform.delivery ? h('div', {}, h('code', {}, platform.delivery.endpoint), deliverySummary(platform.delivery)) : tr({ zh: '未设置', en: 'none' }),
      formatDate(platform.secretRotatedAt),
      h('button', {
        type: 'button',
        class: 'secondary',
        'aria-label': `${tr({ zh: '更换密钥', en: 'Rotate secret' })} ${platform.client_name}`,
        onClick: () => {
          const form = rotateForm(platform, session, secretTarget, reload, () => replace(panel));
          replace(panel, form);
          form.querySelector('button')?.focus();
        },
      }, tr({ zh: '更换密钥', en: 'Rotate secret' })),
    ]);
    const consumers = (deliveries.consumers as any[]).map((consumer) => [
      h('code', {}, consumer.id),
      consumer.endpoint ? h('code', {}, consumer.endpoint) : tr({ zh: '服务内部', en: 'internal' }),
      deliverySummary(consumer),
    ]);
    return [
      secretTarget,
      clients.length
        ? table(tr({ zh: '交易平台列表', en: 'Platforms' }), [{ zh: '平台', en: 'Platform' }, { zh: '回调地址', en: 'Redirect URIs' }, { zh: '权限', en: 'Scope' }, { zh: '事件推送', en: 'Push delivery' }, { zh: '密钥更换时间', en: 'Secret set' }, { zh: '操作', en: 'Actions' }], rows)
        : h('p', {}, tr({ zh: '还没有通过控制台登记的平台。', en: 'No platform has been registered through the console yet.' })),
      panel,
      registerForm(session, secretTarget, reload),
      h('h3', {}, tr({ zh: '全部事件投递（feed 头部 {head}）', en: 'All event delivery (feed head {head})' }, { head: deliveries.head })),
      consumers.length
        ? table(tr({ zh: '事件投递状态', en: 'Event delivery state' }), [{ zh: '接收方', en: 'Consumer' }, { zh: '推送地址', en: 'Endpoint' }, { zh: '状态', en: 'State' }], consumers)
        : h('p', {}, tr({ zh: '没有事件接收方。', en: 'No event consumer.' })),
    ];
  });
}
