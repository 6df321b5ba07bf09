/** Attributes for h(): strings set attributes, functions named on* become event listeners. */
type Attributes = Record<string, string | number | boolean | undefined | null | ((event: any) => void)>;
type Child = Node | string | number | null | undefined | false | Child[];

/**
 * Create an element. Text children become text nodes, never HTML, so values
 * from the server or the user cannot inject markup.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

/** Replace the children of `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let ids = 0;
/** A unique element id for label/input pairs. */
export const uniqueId = (prefix: string) => `${prefix}-${(ids += 1)}`;

/** Wrap an input with its label, tied to it for screen readers, and an optional hint. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  input.id ||= uniqueId('field');
  const hintElement = hint ? h('p', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintElement) input.setAttribute('aria-describedby', hintElement.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintElement);
}
