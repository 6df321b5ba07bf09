/**
 * Page texts in Chinese (the default) and English. The choice is kept in
 * localStorage, so it follows the user across the portal, the login page and
 * the console.
 */
export type Lang = 'zh' | 'en';
export type Text = { zh: string; en: string };

const KEY = 'trading-identity-lang';

export function lang(): Lang {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh';
  } catch {
    return 'zh';
  }
}

export function setLang(next: Lang): void {
  try {
    localStorage.setItem(KEY, next);
  } catch {
    // Private browsing may refuse storage; the choice then lasts for this page only.
  }
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
}

/** Pick the current language's text and fill {name} placeholders. */
export function tr(text: Text, values: Record<string, string | number> = {}): string {
  return text[lang()].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

/** Enterprise statuses as the service sends them, in both languages. */
const ENTERPRISE_STATUS_TEXT: Record<string, Text> = {
  verified: { zh: '已认证', en: 'verified' },
  unverified: { zh: '未认证', en: 'unverified' },
};

/** Return an enterprise status in the page's language; a status this page does not know is shown as sent. */
export function enterpriseStatusText(status: string): string {
  const text = ENTERPRISE_STATUS_TEXT[status];
  return text ? tr(text) : status;
}

/** Create a button that switches language and calls `rerender`. */
export function languageSwitch(rerender: () => void): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'lang-switch';
  button.lang = lang() === 'zh' ? 'en' : 'zh-CN';
  button.textContent = lang() === 'zh' ? 'English' : '中文';
  button.addEventListener('click', () => {
    setLang(lang() === 'zh' ? 'en' : 'zh');
    rerender();
  });
  return button;
}
