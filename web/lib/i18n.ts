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
