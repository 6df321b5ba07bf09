import { callJson, ServiceError } from '../lib/api.js';
import { barChart } from '../lib/chart.js';
import { field, h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { lang, languageSwitch, setLang, tr, type Text } from '../lib/i18n.js';
import { beginSignIn, currentSession, endSession, finishSignIn, userinfo, type Session } from '../lib/session.js';

/**
 * The admin console for operators. It signs in through the provider as the
 * "admin-console" client (passkey only) and calls the operator API under
 * /api/admin/ with the "admin" scope. Sections whose API is not deployed
 * show that plainly instead of failing.
 *
 * Operator API used here:
 *   GET  /api/admin/ca-profiles                     {profiles: CaProfile[]}
 *   POST /api/admin/ca-profiles                     new profile {id, name, anchors, creditCodeLocation, ...}
 *   POST /api/admin/ca-profiles/{id}/status         {status: active|suspended|retired, reason}
 *   GET  /api/admin/clients                         {clients: [{client_id, client_name, redirect_uris, delivery?}]}
 *   POST /api/admin/clients                         register {client_name, redirect_uris}
 *   POST /api/admin/clients/{id}/secret             rotate; returns the new secret once
 *   GET  /api/admin/enterprises?q=                  {enterprises: [...]}
 *   GET  /api/admin/audit?limit=                    {events: [...]}
 *   GET  /api/admin/login-stats?days=               {days: [{day, total, byClient, byMethod}], clients}
 */
const CLIENT_ID = 'admin-console';
const app = document.getElementById('app')!;

type SectionId = 'stats' | 'cas' | 'clients' | 'enterprises' | 'audit';
const SECTIONS: { id: SectionId; title: Text }[] = [
  { id: 'stats', title: { zh: '登录统计', en: 'Login statistics' } },
  { id: 'cas', title: { zh: 'CA 机构', en: 'CA profiles' } },
  { id: 'clients', title: { zh: '交易平台', en: 'Platform clients' } },
  { id: 'enterprises', title: { zh: '企业查询', en: 'Enterprise search' } },
  { id: 'audit', title: { zh: '审计日志', en: 'Audit log' } },
];
let current: SectionId = (location.hash.slice(1) as SectionId) || 'stats';
let signInError: unknown;

const formatDate = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB') : '—');

function table(headers: Text[], rows: (string | number | Node)[][]): HTMLElement {
  return h('table', {},
    h('thead', {}, h('tr', {}, headers.map((header) => h('th', { scope: 'col' }, tr(header))))),
    h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell) => h('td', {}, cell))))),
  );
}

/** Show the section's content, or a plain notice when its API is not deployed. */
async function guarded(target: HTMLElement, work: () => Promise<(HTMLElement | SVGElement | null)[]>): Promise<void> {
  try {
    replace(target, ...(await work()));
  } catch (error) {
    replace(target, errorBox(error));
  }
}

async function statsSection(session: Session, target: HTMLElement): Promise<void> {
  await guarded(target, async () => {
    const { days, clients } = await callJson('/api/admin/login-stats?days=30', { token: session.accessToken });
    const perClient: Record<string, number> = {};
    const perMethod: Record<string, number> = {};
    for (const day of days) {
      for (const [id, count] of Object.entries(day.byClient as Record<string, number>)) perClient[id] = (perClient[id] ?? 0) + count;
      for (const [method, count] of Object.entries(day.byMethod as Record<string, number>)) perMethod[method] = (perMethod[method] ?? 0) + count;
    }
    const methodName = (method: string) => (method === 'passkey' ? tr({ zh: '通行密钥', en: 'passkey' }) : tr({ zh: '数字证书', en: 'certificate' }));
    return [
      h('h3', {}, tr({ zh: '每日登录（近 30 天）', en: 'Logins per day (last 30 days)' })),
      barChart(tr({ zh: '每日登录次数', en: 'Logins per day' }), days.slice(-14).map((day: any) => ({ label: day.day, value: day.total }))),
      h('h3', {}, tr({ zh: '按平台', en: 'Per platform' })),
      barChart(tr({ zh: '各平台登录次数', en: 'Logins per platform' }), Object.entries(perClient).map(([id, value]) => ({ label: clients[id] ?? id, value }))),
      h('h3', {}, tr({ zh: '按登录方式', en: 'Per method' })),
      barChart(tr({ zh: '各登录方式次数', en: 'Logins per method' }), Object.entries(perMethod).map(([method, value]) => ({ label: methodName(method), value }))),
    ];
  });
}

async function caSection(session: Session, target: HTMLElement): Promise<void> {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const reload = () => void caSection(session, target);
  const form = h('form', { 'aria-labelledby': 'add-ca-title' },
    h('h3', { id: 'add-ca-title' }, tr({ zh: '添加 CA 机构', en: 'Add a CA profile' })),
    field(tr({ zh: '标识', en: 'Identifier' }), h('input', { name: 'id', required: true, pattern: '[a-z0-9-]{2,40}' }), tr({ zh: '小写字母、数字和连字符', en: 'lower-case letters, digits and hyphens' })),
    field(tr({ zh: '名称', en: 'Name' }), h('input', { name: 'name', required: true, maxlength: 100 })),
    field(tr({ zh: '根证书（PEM）', en: 'Trust anchor (PEM)' }), h('textarea', { name: 'anchor', required: true, rows: 6 })),
    field(tr({ zh: '信用代码位置', en: 'Credit code location' }), h('select', { name: 'location' },
      h('option', { value: 'auto' }, tr({ zh: '自动查找', en: 'search automatically' })),
      h('option', { value: 'serialNumber' }, 'subject serialNumber'),
      h('option', { value: 'organizationIdentifier' }, 'subject organizationIdentifier'),
      h('option', { value: 'cn' }, 'CN'),
    )),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '添加', en: 'Add' })),
    status,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
    const location = value('location');
    const creditCodeLocation = location === 'auto' || location === 'cn' ? { source: location } : { source: 'subject', attribute: location };
    try {
      await callJson('/api/admin/ca-profiles', { body: { id: value('id'), name: value('name'), anchors: [value('anchor')], creditCodeLocation }, token: session.accessToken });
      reload();
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  const setStatus = async (id: string, next: string) => {
    try {
      await callJson(`/api/admin/ca-profiles/${encodeURIComponent(id)}/status`, { body: { status: next, reason: tr({ zh: '管理员在控制台操作', en: 'changed in the admin console' }) }, token: session.accessToken });
      reload();
    } catch (error) {
      replace(status, errorBox(error));
    }
  };
  const statusName: Record<string, Text> = { active: { zh: '正常', en: 'active' }, suspended: { zh: '已暂停', en: 'suspended' }, retired: { zh: '已退出', en: 'retired' }, distrusted: { zh: '已撤销信任', en: 'distrusted' } };
  await guarded(target, async () => {
    const { profiles } = await callJson('/api/admin/ca-profiles', { token: session.accessToken });
    return [
      table(
        [{ zh: '标识', en: 'Identifier' }, { zh: '名称', en: 'Name' }, { zh: '状态', en: 'Status' }, { zh: '操作', en: 'Actions' }],
        profiles.map((profile: any) => [
          profile.id,
          profile.name,
          tr(statusName[profile.status] ?? { zh: profile.status, en: profile.status }),
          h('span', { class: 'row' },
            profile.status === 'active' ? h('button', { type: 'button', class: 'secondary', onClick: () => void setStatus(profile.id, 'suspended') }, tr({ zh: '暂停', en: 'Suspend' })) : null,
            profile.status === 'suspended' ? h('button', { type: 'button', class: 'secondary', onClick: () => void setStatus(profile.id, 'active') }, tr({ zh: '恢复', en: 'Resume' })) : null,
            profile.status !== 'retired' ? h('button', { type: 'button', class: 'danger', onClick: () => void setStatus(profile.id, 'retired') }, tr({ zh: '退出', en: 'Retire' })) : null,
          ),
        ]),
      ),
      form,
    ];
  });
}

async function clientsSection(session: Session, target: HTMLElement): Promise<void> {
  const status = h('div', { role: 'status', 'aria-live': 'polite' });
  const form = h('form', { 'aria-labelledby': 'add-client-title' },
    h('h3', { id: 'add-client-title' }, tr({ zh: '登记交易平台', en: 'Register a platform' })),
    field(tr({ zh: '平台名称', en: 'Platform name' }), h('input', { name: 'client_name', required: true, maxlength: 100 })),
    field(tr({ zh: '回调地址', en: 'Redirect URI' }), h('input', { name: 'redirect_uri', type: 'url', required: true })),
    h('button', { type: 'submit', class: 'primary' }, tr({ zh: '登记', en: 'Register' })),
    status,
  );
  const showSecret = (result: any) =>
    replace(status, h('div', { class: 'success' }, h('p', {}, tr({ zh: '客户端密钥只显示这一次，请安全地交给平台：', en: 'The client secret is shown only now; hand it to the platform securely:' })), h('p', {}, h('code', {}, `${result.client_id} / ${result.client_secret}`))));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
    try {
      showSecret(await callJson('/api/admin/clients', { body: { client_name: value('client_name'), redirect_uris: [value('redirect_uri')] }, token: session.accessToken }));
    } catch (error) {
      replace(status, errorBox(error));
    }
  });
  const rotate = async (id: string) => {
    try {
      showSecret(await callJson(`/api/admin/clients/${encodeURIComponent(id)}/secret`, { body: {}, token: session.accessToken }));
    } catch (error) {
      replace(status, errorBox(error));
    }
  };
  await guarded(target, async () => {
    const { clients } = await callJson('/api/admin/clients', { token: session.accessToken });
    return [
      table(
        [{ zh: '平台', en: 'Platform' }, { zh: '回调地址', en: 'Redirect URIs' }, { zh: '事件推送', en: 'Event delivery' }, { zh: '操作', en: 'Actions' }],
        clients.map((client: any) => [
          client.client_name,
          (client.redirect_uris ?? []).join('\n'),
          client.delivery ? `${client.delivery.status} · ${formatDate(client.delivery.lastDeliveredAt)}` : '—',
          h('button', { type: 'button', class: 'secondary', onClick: () => void rotate(client.client_id) }, tr({ zh: '更换密钥', en: 'Rotate secret' })),
        ]),
      ),
      form,
    ];
  });
}

async function enterprisesSection(session: Session, target: HTMLElement): Promise<void> {
  const results = h('div', {});
  const query = h('input', { name: 'q', type: 'search', minlength: 2, required: true });
  const form = h('form', { role: 'search', class: 'row' }, field(tr({ zh: '信用代码或名称', en: 'Credit code or name' }), query), h('button', { type: 'submit', class: 'primary' }, tr({ zh: '查询', en: 'Search' })));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    await guarded(results, async () => {
      const { enterprises } = await callJson(`/api/admin/enterprises?q=${encodeURIComponent(query.value.trim())}`, { token: session.accessToken });
      return [table([{ zh: '信用代码', en: 'Credit code' }, { zh: '名称', en: 'Name' }, { zh: '状态', en: 'Status' }], enterprises.map((e: any) => [e.creditCode, e.name ?? '—', e.status]))];
    });
  });
  replace(target, form, results);
}

async function auditSection(session: Session, target: HTMLElement): Promise<void> {
  await guarded(target, async () => {
    const { events } = await callJson('/api/admin/audit?limit=100', { token: session.accessToken });
    return [table([{ zh: '时间', en: 'Time' }, { zh: '事件', en: 'Event' }, { zh: '企业', en: 'Enterprise' }, { zh: '内容', en: 'Data' }], events.map((e: any) => [formatDate(e.time), String(e.type).split(/[:/]/).pop() ?? e.type, e.creditCode ?? '—', JSON.stringify(e.data)]))];
  });
}

const RENDERERS: Record<SectionId, (session: Session, target: HTMLElement) => Promise<void>> = {
  stats: statsSection,
  cas: caSection,
  clients: clientsSection,
  enterprises: enterprisesSection,
  audit: auditSection,
};

async function render(): Promise<void> {
  document.title = tr({ zh: '管理控制台', en: 'Admin console' });
  const session = currentSession(CLIENT_ID);
  const header = h('header', { class: 'bar' },
    h('span', { class: 'brand' }, tr({ zh: '管理控制台 · 公共资源交易统一身份认证', en: 'Admin console · Trading Identity' })),
    h('span', { class: 'row' },
      session ? h('button', { type: 'button', class: 'secondary', onClick: () => { endSession(CLIENT_ID); void render(); } }, tr({ zh: '退出', en: 'Sign out' })) : null,
      languageSwitch(() => void render()),
    ),
  );
  if (!session) {
    replace(app, header, h('main', { id: 'main' },
      h('h1', {}, tr({ zh: '管理控制台', en: 'Admin console' })),
      signInError ? errorBox(signInError) : null,
      h('section', {},
        h('p', {}, tr({ zh: '管理员使用登记过的安全密钥登录。没有默认密码；新管理员由已有权限的人员运行 npm run operator:enroll 获得一次性登记链接。', en: 'Operators sign in with their enrolled security key. There is no default password; a new operator gets a one-time enrollment link from npm run operator:enroll.' })),
        h('button', { type: 'button', class: 'primary', onClick: () => void beginSignIn(CLIENT_ID, 'openid admin') }, tr({ zh: '使用安全密钥登录', en: 'Sign in with a security key' })),
      ),
    ));
    return;
  }
  let claims: Record<string, any>;
  try {
    claims = await userinfo(session);
  } catch (error) {
    endSession(CLIENT_ID);
    signInError = error instanceof ServiceError ? error : new ServiceError(401, 'INVALID_TOKEN', String(error));
    return render();
  }
  const content = h('div', { id: 'section' });
  replace(app, header, h('main', { id: 'main' },
    h('h1', {}, tr({ zh: '管理控制台', en: 'Admin console' })),
    h('p', {}, tr({ zh: '管理员：{name}', en: 'Operator: {name}' }, { name: claims.name ?? claims.sub })),
    h('nav', { class: 'tabs', 'aria-label': tr({ zh: '功能', en: 'Sections' }) },
      SECTIONS.map((section) => h('button', {
        type: 'button',
        class: 'secondary',
        'aria-current': section.id === current ? 'page' : undefined,
        onClick: () => { current = section.id; history.replaceState(null, '', `#${section.id}`); void render(); },
      }, tr(section.title))),
    ),
    h('section', { 'aria-labelledby': 'section-title' }, h('h2', { id: 'section-title' }, tr(SECTIONS.find((section) => section.id === current)!.title)), content),
  ));
  await RENDERERS[current](session, content);
}

setLang(lang());
try {
  await finishSignIn(CLIENT_ID);
} catch (error) {
  signInError = error;
}
if (!SECTIONS.some((section) => section.id === current)) current = 'stats';
await render();
