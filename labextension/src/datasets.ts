/**
 * Datasets tab (sidebar) and the version diff view (main area).
 */
import { Widget } from '@lumino/widgets';

import { INbtrackApp, loadSnippet } from './context';
import { snippetButtons } from './detail';
import { actionLink, fmt, h } from './dom';
import { requestAPI } from './handler';
import {
  IColumnStatsPair,
  IDatasetDiff,
  IDatasetList,
  IDatasetSummary,
  IDatasetVersion,
  IDatasetVersionList,
  JSONValue
} from './tokens';

/** Render any JSON as nested tables of text. */
export function jsonView(value: unknown, depth = 0): Node {
  if (Array.isArray(value)) {
    if (value.length && value.every(v => v && typeof v === 'object' && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap(v => Object.keys(v as object)))];
      return h(
        'table',
        { class: 'nbtrack-table' },
        h('thead', {}, h('tr', {}, ...keys.map(k => h('th', {}, k)))),
        h(
          'tbody',
          {},
          ...value.map(v =>
            h(
              'tr',
              {},
              ...keys.map(k => h('td', {}, cell((v as Record<string, unknown>)[k], depth)))
            )
          )
        )
      );
    }
    return document.createTextNode(value.map(fmt).join(', '));
  }
  if (value && typeof value === 'object') {
    return h(
      'table',
      { class: 'nbtrack-table' },
      h(
        'tbody',
        {},
        ...Object.entries(value).map(([k, v]) =>
          h('tr', {}, h('th', {}, k), h('td', {}, cell(v, depth)))
        )
      )
    );
  }
  return document.createTextNode(fmt(value));
}

function cell(v: unknown, depth: number): Node {
  return v && typeof v === 'object' && depth < 3
    ? jsonView(v, depth + 1)
    : document.createTextNode(fmt(v));
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
      h(
        'div',
        { class: 'nbtrack-row' },
        h(
          'button',
          { class: 'jp-mod-styled nbtrack-button', on: { click: () => void this.load() } },
          '⟳ Reload'
        )
      ),
      this._list,
      this._versions
    );
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
      const { datasets: items } = await requestAPI<IDatasetList>('datasets');
      this._list.replaceChildren(
        items.length
          ? h(
              'ul',
              {},
              ...items.map(d =>
                h(
                  'li',
                  {},
                  h(
                    'a',
                    {
                      class: 'nbtrack-link',
                      attrs: { href: '#' },
                      on: {
                        click: e => {
                          e.preventDefault();
                          void this.showVersions(d.name);
                        }
                      }
                    },
                    d.name
                  ),
                  ' ',
                  h('span', { class: 'nbtrack-muted' }, summary(d))
                )
              )
            )
          : h(
              'p',
              { class: 'nbtrack-muted' },
              'No datasets yet. Snapshot a DataFrame (nbtrack.snapshot(df, "name")) to see its versions here.'
            )
      );
    } catch (e) {
      this._list.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }

  /** Show a dataset's versions; ``mark`` (a version) is highlighted and scrolled into view. */
  async showVersions(name: string, mark?: number): Promise<void> {
    try {
      const { versions } = await requestAPI<IDatasetVersionList>(
        `datasets/${encodeURIComponent(name)}/versions`
      );
      const picked: number[] = [];
      const diff = h(
        'button',
        {
          class: 'jp-mod-styled jp-mod-accept nbtrack-button',
          on: { click: () => this._app.openDiff(name, Math.min(...picked), Math.max(...picked)) }
        },
        'Diff 2 versions'
      );
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
        return h(
          'div',
          {
            class: `nbtrack-version${v.version === mark ? ' nbtrack-version-marked' : ''}`,
            attrs: { 'data-version': String(v.version) }
          },
          h(
            'label',
            { class: 'nbtrack-row' },
            box,
            h('b', {}, `v${v.version}`),
            h('span', { class: 'nbtrack-muted' }, versionSummary(v))
          ),
          v.message ? h('div', { class: 'nbtrack-muted' }, v.message) : null,
          versionLinks(this._app, name, v),
          snippetButtons(this._app, loadSnippet(name, v.version))
        );
      });
      this._versions.replaceChildren(
        h('h3', {}, name),
        h(
          'div',
          { class: 'nbtrack-row' },
          diff,
          h('span', { class: 'nbtrack-muted' }, 'tick two versions')
        ),
        ...rows
      );
      if (versions.length === 2) {
        rows[0].querySelector('input')?.click();
        rows[1].querySelector('input')?.click();
      }
      this._versions.querySelector('.nbtrack-version-marked')?.scrollIntoView({ block: 'nearest' });
    } catch (e) {
      this._versions.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }
}

/** A version's links: its lineage graph, and the diff with the version it was derived from. */
function versionLinks(app: INbtrackApp, name: string, v: IDatasetVersion): HTMLElement {
  const parent = v.parent ?? (v.version > 1 ? v.version - 1 : null);
  return h(
    'div',
    { class: 'nbtrack-row nbtrack-version-links' },
    actionLink(
      'Lineage',
      () => app.openLineage({ dataset: name, version: v.version }),
      'nbtrack-version-lineage',
      { title: 'The runs that wrote and read this version, and what they read and wrote' }
    ),
    parent !== null
      ? actionLink(
          `Diff with v${parent}`,
          () => app.openDiff(name, parent, v.version),
          'nbtrack-version-diff',
          { title: `What changed from v${parent} to v${v.version}` }
        )
      : null
  );
}

function summary(d: IDatasetSummary): string {
  const versions = `${fmt(d.versions)} version${d.versions === 1 ? '' : 's'}`;
  return `${versions} · ${fmt(d.rows)} × ${fmt(d.columns)}`;
}

function versionSummary(v: IDatasetVersion): string {
  const parts = [
    `${fmt(v.rows)} rows × ${fmt(v.columns)} cols`,
    new Date(v.created * 1000).toLocaleString()
  ];
  if (v.run_id) {
    parts.push(`run ${v.run_id.slice(-8)}`);
  }
  return parts.join(' · ');
}

const STAT_FIELDS = ['dtype', 'count', 'nulls', 'mean', 'std', 'min', 'max', 'top'];

/** Per-column statistics of both versions, one row per version, changed cells marked. */
function statsView(stats: Record<string, IColumnStatsPair>, a: number, b: number): Node {
  const body = h('tbody');
  for (const [col, pair] of Object.entries(stats)) {
    for (const [label, side, other] of [
      [`v${a}`, pair.a, pair.b],
      [`v${b}`, pair.b, pair.a]
    ] as const) {
      body.append(
        h(
          'tr',
          {},
          label === `v${a}` ? h('th', { attrs: { rowspan: '2' } }, col) : null,
          h('td', {}, label),
          ...STAT_FIELDS.map(f => {
            const v = side ? side[f] : undefined;
            const text =
              f === 'top' && Array.isArray(v)
                ? v.map(x => (Array.isArray(x) ? `${fmt(x[0])}: ${fmt(x[1])}` : fmt(x))).join(', ')
                : side
                  ? fmt(v)
                  : '—';
            const changed =
              label === `v${b}` &&
              JSON.stringify(v) !== JSON.stringify(other ? other[f] : undefined);
            return h('td', { class: changed ? 'nbtrack-changed' : '' }, text);
          })
        )
      );
    }
  }
  return h(
    'table',
    { class: 'nbtrack-table nbtrack-stats' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'column'),
        h('th', {}, 'version'),
        ...STAT_FIELDS.map(f => h('th', {}, f))
      )
    ),
    body
  );
}

/** Drift per column; PSI above 0.2 is marked as drift (the usual rule of thumb). */
function driftView(drift: Record<string, Record<string, JSONValue>>): Node {
  const keys = [...new Set(Object.values(drift).flatMap(d => Object.keys(d)))];
  return h(
    'table',
    { class: 'nbtrack-table nbtrack-drift' },
    h(
      'thead',
      {},
      h('tr', {}, h('th', {}, 'column'), ...keys.map(k => h('th', {}, k)), h('th', {}, ''))
    ),
    h(
      'tbody',
      {},
      ...Object.entries(drift).map(([col, d]) => {
        const psi = typeof d.psi === 'number' ? d.psi : null;
        return h(
          'tr',
          { class: psi !== null && psi > 0.2 ? 'nbtrack-differs' : '' },
          h('th', {}, col),
          ...keys.map(k => h('td', {}, fmt(d[k]))),
          h('td', {}, psi !== null && psi > 0.2 ? 'drift (PSI > 0.2)' : '')
        );
      })
    )
  );
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
      const diff = await requestAPI<IDatasetDiff>(
        `datasets/${encodeURIComponent(this.datasetName)}/diff`,
        { a: this.a, b: this.b }
      );
      const sections: Array<[string, Node]> = [
        ['schema', jsonView(diff.schema)],
        ['rows', jsonView(diff.rows)],
        ['stats', statsView(diff.stats, this.a, this.b)],
        ['drift', driftView(diff.drift)]
      ];
      this.node.replaceChildren(
        h(
          'div',
          { class: 'nbtrack-detail-body' },
          h('h2', {}, `${this.datasetName}: v${this.a} → v${this.b}`),
          diff.key
            ? h('p', { class: 'nbtrack-muted' }, `rows matched on key ${diff.key.join(', ')}`)
            : null,
          ...sections.map(([k, view]) =>
            h('section', { class: `nbtrack-section nbtrack-diff-${k}` }, h('h3', {}, k), view)
          )
        )
      );
    } catch (e) {
      this.node.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }
}
