import { ServiceError } from '../lib/api.js';
import { h, replace } from '../lib/dom.js';
import { errorBox } from '../lib/errors.js';
import { lang, tr, type Text } from '../lib/i18n.js';

/** Format an ISO 8601 time in the page language, or a dash when absent. */
export const formatDate = (iso: string | null | undefined) => (iso ? new Date(iso).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB') : '—');

type Cell = string | number | Node | null | undefined;

/**
 * Create a data table with column headers and a caption for screen readers.
 * It scrolls sideways inside a focusable region, so keyboard users can reach
 * wide columns too.
 */
export function table(caption: string, headers: Text[], rows: Cell[][]): HTMLElement {
  return h('div', { class: 'table-scroll', role: 'region', 'aria-label': caption, tabindex: 0 },
    h('table', {},
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, headers.map((header) => h('th', { scope: 'col' }, tr(header))))),
      h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell) => h('td', {}, cell ?? '—'))))),
    ),
  );
}

/** Show the section's content, or an explained error in its place. */
export async function guarded(target: HTMLElement, work: () => Promise<(Node | null)[]>): Promise<void> {
  try {
    replace(target, ...(await work()));
  } catch (error) {
    replace(target, errorBox(error));
  }
}

/**
 * Show an error under a form. When the service names the field it rejected,
 * that control is marked invalid and focused, so the operator lands on it.
 */
export function showFormError(form: HTMLFormElement, status: HTMLElement, error: unknown, fieldNames: Record<string, string> = {}): void {
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  replace(status, errorBox(error));
  const field = error instanceof ServiceError ? (error.details?.field as string | undefined) : undefined;
  if (!field) return;
  const name = fieldNames[field] ?? fieldNames[field.replace(/\[\d+\]$/, '')] ?? field.replace(/\[\d+\]$/, '');
  const control = form.elements.namedItem(name);
  if (control instanceof HTMLElement) {
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  }
}

/** Read a form control's trimmed value by name. */
export function formValue(form: HTMLFormElement, name: string): string {
  return (form.elements.namedItem(name) as HTMLInputElement).value.trim();
}

/** Split a text area into its non-empty lines. */
export const lines = (text: string) => text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);

/** Create a badge for a status word. The word carries the meaning, so colour is never the only cue. */
export function badge(text: string, tone: 'ok' | 'bad' | 'warn'): HTMLElement {
  return h('span', { class: `badge ${tone}` }, text);
}
