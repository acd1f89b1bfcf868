/**
 * A tiny DOM builder. User data only ever goes in as text nodes (textContent);
 * this module has no way to set HTML.
 */

import { RunStatus } from './tokens';

export type Child = Node | string | number | null | undefined | false;

export interface IProps {
  class?: string;
  title?: string;
  attrs?: Record<string, string>;
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: IProps = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) {
    el.className = props.class;
  }
  if (props.title) {
    el.title = props.title;
  }
  for (const [k, v] of Object.entries(props.attrs ?? {})) {
    el.setAttribute(k, v);
  }
  for (const [k, fn] of Object.entries(props.on ?? {})) {
    el.addEventListener(k, fn as EventListener);
  }
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    el.appendChild(
      typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c
    );
  }
}

/** Format any JSON value as one line of text. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) {
    return '';
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) {
      return String(v);
    }
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  }
  if (typeof v === 'string') {
    return v;
  }
  return JSON.stringify(v);
}

export function fmtDuration(s: number | null | undefined): string {
  if (s === null || s === undefined) {
    return '';
  }
  if (s < 60) {
    return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  }
  return `${(s / 3600).toFixed(1)} h`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  if (isNaN(d.getTime())) {
    return iso;
  }
  return d.toLocaleString();
}

export const STATUS_MARK: Record<RunStatus, string> = {
  running: '●',
  ok: '✓',
  failed: '✗',
  interrupted: '■',
  crashed: '⚠'
};

export function statusBadge(status: RunStatus): HTMLElement {
  return h(
    'span',
    { class: `nbtrack-status nbtrack-status-${status}`, title: status },
    `${STATUS_MARK[status]} ${status}`
  );
}

/** A two-column key/value table; keys and values as text. */
export function kvTable(rows: Array<[string, unknown]>, cls = ''): HTMLTableElement {
  return h(
    'table',
    { class: `nbtrack-table ${cls}` },
    h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, fmt(v)))))
  );
}

/** Read a --jp-* CSS variable of the current theme. */
export function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

/** A link that runs an action (opens a run, a diff, ...) instead of navigating. */
export function actionLink(
  text: string,
  action: () => void,
  cls = '',
  attrs: Record<string, string> = {}
): HTMLAnchorElement {
  return h(
    'a',
    {
      class: `nbtrack-link ${cls}`.trim(),
      attrs: { href: '#', ...attrs },
      on: {
        click: e => {
          e.preventDefault();
          action();
        }
      }
    },
    text
  );
}
