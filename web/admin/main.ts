import { ServiceError, callJson } from '../lib/api.js';
import { barChart } from '../lib/chart.js';
import { h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { lang, languageSwitch, setLang, tr, type Text } from '../lib/i18n.js';
import { beginSignIn, currentSession, endSession, signOut, finishSignIn, userinfo, type Session } from '../lib/session.js';
import { auditSection } from './audit.js';
import { caProfilesSection } from './ca-profiles.js';
import { enterprisesSection } from './enterprises.js';
import { platformsSection } from './platforms.js';
import { guarded } from './shared.js';

/**
 * The admin console for operators. It signs in through the provider as the
 * "admin-console" client (passkey only) and calls the operator API with the
 * "admin" scope:
 *
 *   /api/admin/login-stats             login charts
 *   /api/admin/ca-profiles[/{id}/status] CA profiles and their status (with the version read)
 *   /api/admin/clients[/{id}/secret]   platform clients and secret rotation
 *   /api/admin/enterprises[/{code}]    enterprise search, read-only
 *   /api/feed/audit, /api/feed/deliveries  audit log and feed delivery state
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

const RENDERERS: Record<SectionId, (session: Session, target: HTMLElement) => Promise<void>> = {
  stats: statsSection,
  cas: caProfilesSection,
  clients: platformsSection,
  enterprises: enterprisesSection,
  audit: auditSection,
};

/** Render the console; `focusTab` keeps keyboard focus on the chosen tab, which the re-render replaces. */
async function render(options: { focusTab?: boolean } = {}): Promise<void> {
  document.title = tr({ zh: '管理控制台', en: 'Admin console' });
  const session = currentSession(CLIENT_ID);
  const header = h('header', { class: 'bar' },
    h('span', { class: 'brand' }, tr({ zh: '管理控制台 · 公共资源交易统一身份认证', en: 'Admin console · Trading Identity' })),
    h('span', { class: 'row' },
      session ? h('button', { type: 'button', class: 'secondary', onClick: () => { void signOut(CLIENT_ID); } }, tr({ zh: '退出', en: 'Sign out' })) : null,
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
        onClick: () => {
          current = section.id;
          history.replaceState(null, '', `#${section.id}`);
          void render({ focusTab: true });
        },
      }, tr(section.title))),
    ),
    h('section', { 'aria-labelledby': 'section-title' }, h('h2', { id: 'section-title' }, tr(SECTIONS.find((section) => section.id === current)!.title)), content),
  ));
  if (options.focusTab) app.querySelector<HTMLElement>('nav.tabs [aria-current=page]')?.focus();
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
