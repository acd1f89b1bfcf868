/**
 * Datasets tab (sidebar) and the version diff view (main area).
 */
import { Widget } from '@lumino/widgets';

import { INbtrackApp, loadSnippet } from './context';
import { snippetButtons } from './detail';
import { fmt, h } from './dom';
import { requestAPI } from './handler';
import { IDatasetSummary, IDatasetVersion } from './tokens';

/** Render any JSON as nested tables of text. */
export function jsonView(value: unknown, depth = 0): Node {
  if (Array.isArray(value)) {
    if (value.length && value.every(v => v && typeof v === 'object' && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap(v => Object.keys(v as object)))];
      return h('table', { class: 'nbtrack-table' },
        h('thead', {}, h('tr', {}, ...keys.map(k => h('th', {}, k)))),
        h('tbody', {}, ...value.map(v => h('tr', {}, ...keys.map(k => h('td', {}, cell((v as Record<string, unknown>)[k], depth)))))));
    }
    return document.createTextNode(value.map(fmt).join(', '));
  }
  if (value && typeof value === 'object') {
    return h('table', { class: 'nbtrack-table' },
      h('tbody', {}, ...Object.entries(value).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, cell(v, depth))))));
  }
  return document.createTextNode(fmt(value));
}

function cell(v: unknown, depth: number): Node {
  return v && typeof v === 'object' && depth < 3 ? jsonView(v, depth + 1) : document.createTextNode(fmt(v));
}

export class DatasetsView extends Widget {
  private _list: HTMLDivElement;
  private _versions: HTMLDivElement;

  constructor(private _app: INbtrackApp) {
    super();
    this.addClass('nbtrack-datasets');
    this._list = h('div', { class: 'nbtrack-dataset-list' });
    this._versions = h('div', { class: 'nbtrack-versions' });
    this.node.append(
      h('div', { class: 'nbtrack-row' }, h('button', { class: 'jp-mod-styled nbtrack-button', on: { click: () => void this.load() } }, '⟳ Reload')),
      this._list, this._versions);
  }

  protected onAfterShow(): void {
    void this.load();
  }

  protected onAfterAttach(): void {
    if (this.isVisible) {
      void this.load();
    }
  }

  async load(): Promise<void> {
    try {
      const { datasets } = await requestAPI<{ datasets: Array<IDatasetSummary | string> }>('datasets');
      const items = datasets.map(d => (typeof d === 'string' ? { name: d } : d));
      this._list.replaceChildren(
        items.length
          ? h('ul', {}, ...items.map(d => h('li', {},
            h('a', { class: 'nbtrack-link', attrs: { href: '#' }, on: { click: e => { e.preventDefault(); void this.showVersions(d.name); } } }, d.name),
            ' ', h('span', { class: 'nbtrack-muted' }, summary(d)))))
          : h('p', { class: 'nbtrack-muted' }, 'No datasets yet. Version a DataFrame with nbtrack to see it here.'));
    } catch (e) {
      this._list.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }

  async showVersions(name: string): Promise<void> {
    try {
      const { versions } = await requestAPI<{ versions: IDatasetVersion[] }>(`datasets/${encodeURIComponent(name)}/versions`);
      const picked: number[] = [];
      const diff = h('button', { class: 'jp-mod-styled jp-mod-accept nbtrack-button', on: { click: () => this._app.openDiff(name, Math.min(...picked), Math.max(...picked)) } }, 'Diff 2 versions');
      diff.disabled = true;
      const rows = versions.map(v => {
        const box = h('input', { attrs: { type: 'checkbox', title: 'Pick two versions to diff' } });
        box.addEventListener('change', () => {
          if (box.checked) {
            picked.push(v.version);
          } else {
            picked.splice(picked.indexOf(v.version), 1);
          }
          diff.disabled = picked.length !== 2;
        });
        const extra = Object.entries(v).filter(([k, x]) => k !== 'version' && k !== 'name' && (x === null || typeof x !== 'object')).slice(0, 4);
        return h('tr', {}, h('td', {}, box), h('td', {}, `v${v.version}`),
          h('td', { class: 'nbtrack-muted' }, extra.map(([k, x]) => `${k}: ${fmt(x)}`).join(' · ')),
          h('td', {}, snippetButtons(this._app, loadSnippet(name, v.version))));
      });
      this._versions.replaceChildren(
        h('h3', {}, name),
        h('table', { class: 'nbtrack-table' }, h('tbody', {}, ...rows)),
        h('div', { class: 'nbtrack-row' }, diff));
      if (versions.length === 2) {
        (rows[0].querySelector('input') as HTMLInputElement).click();
        (rows[1].querySelector('input') as HTMLInputElement).click();
      }
    } catch (e) {
      this._versions.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }
}

function summary(d: IDatasetSummary): string {
  return Object.entries(d).filter(([k, v]) => k !== 'name' && (v === null || typeof v !== 'object')).slice(0, 3).map(([k, v]) => `${k}: ${fmt(v)}`).join(' · ');
}

export class DiffWidget extends Widget {
  constructor(
    readonly datasetName: string,
    readonly a: number,
    readonly b: number
  ) {
    super();
    this.addClass('nbtrack-detail');
    this.addClass('nbtrack-diff');
    this.id = `nbtrack-diff-${encodeURIComponent(datasetName)}-${a}-${b}`;
    this.title.label = `${datasetName} v${a} → v${b}`;
    this.title.closable = true;
    this.node.append(h('div', {}, 'Loading…'));
    void this.load();
  }

  async load(): Promise<void> {
    try {
      const diff = await requestAPI<Record<string, unknown>>(`datasets/${encodeURIComponent(this.datasetName)}/diff`, { a: this.a, b: this.b });
      const order = ['schema', 'rows', 'stats', 'drift'];
      const keys = [...order.filter(k => k in diff), ...Object.keys(diff).filter(k => !order.includes(k))];
      this.node.replaceChildren(h('div', { class: 'nbtrack-detail-body' },
        h('h2', {}, `${this.datasetName}: v${this.a} → v${this.b}`),
        ...keys.map(k => h('section', { class: `nbtrack-section nbtrack-diff-${k}` }, h('h3', {}, k), jsonView(diff[k])))));
    } catch (e) {
      this.node.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }
}
