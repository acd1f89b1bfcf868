/**
 * The models view (a workspace tab): registered models, their versions, aliases (champion,
 * challenger, ...), the alias history (who moved which alias when and why) and each version's lineage
 * (its run, the dataset versions it was trained on). Read-only: aliases move with `nbtrack models alias`
 * or nbtrack.set_model_alias(). Reads GET /models and GET /models/{name}; all text goes in as text.
 */
import { Widget } from '@lumino/widgets';

import { INbtrackApp } from './context';
import { actionLink, append, Child, fmt, fmtTime, h } from './dom';
import { requestAPI } from './handler';
import { isMetaMetric } from './runlook';
import { IAliasMove, IModel, IModelData, IModelDetail, IModelList, IModelVersion } from './tokens';

/** How many metrics a version's row shows (the rest are in its run). */
const METRICS_SHOWN = 4;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function aliasChip(alias: string, version?: number): HTMLElement {
  return h(
    'span',
    { class: 'nbtrack-alias', attrs: { 'data-alias': alias } },
    version === undefined ? alias : `${alias} → v${version}`
  );
}

function table(headers: string[], rows: HTMLTableRowElement[], cls: string): HTMLTableElement {
  return h(
    'table',
    { class: `nbtrack-table ${cls}` },
    h('thead', {}, h('tr', {}, ...headers.map(t => h('th', {}, t)))),
    h('tbody', {}, ...rows)
  );
}

function row(...cells: Child[][]): HTMLTableRowElement {
  return h('tr', {}, ...cells.map(c => h('td', {}, ...c)));
}

function who(m: IAliasMove): string {
  return [m.user, m.host].filter(Boolean).join('@');
}

export class ModelsView extends Widget {
  private _list: HTMLDivElement;
  private _detail: HTMLDivElement;
  private _selected = '';

  constructor(private _app: INbtrackApp) {
    super();
    this.addClass('nbtrack-models');
    this._list = h('div', { class: 'nbtrack-models-list' }, 'Loading…');
    this._detail = h('div', { class: 'nbtrack-models-detail' });
    this.node.append(this._list, this._detail);
  }

  /** The model shown (its name), '' before one is chosen. */
  get selected(): string {
    return this._selected;
  }

  /** Reload the models list and the shown model. */
  async refresh(): Promise<void> {
    let models: IModel[];
    try {
      models = (await requestAPI<IModelList>('models')).models;
    } catch (e) {
      this._list.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
      return;
    }
    if (!models.length) {
      this._list.replaceChildren(h('p', { class: 'nbtrack-muted' }, 'No models registered.'));
      this._detail.replaceChildren(
        h(
          'p',
          { class: 'nbtrack-muted' },
          'Register a run’s fitted model as a version: nbtrack.register_model(run, "churn") in ' +
            'Python, or `nbtrack models register RUN churn`; aliases with `nbtrack models alias ' +
            'churn 1 champion --reason "..."`.'
        )
      );
      return;
    }
    if (!models.some(m => m.name === this._selected)) {
      this._selected = models[0].name;
    }
    this._renderList(models);
    await this.showModel(this._selected);
  }

  /** Show one model: aliases, versions with their lineage, alias history. */
  async showModel(name: string): Promise<void> {
    this._selected = name;
    this._list.querySelectorAll('li').forEach(li => {
      li.classList.toggle('nbtrack-model-selected', li.dataset.model === name);
    });
    try {
      const detail = await requestAPI<IModelDetail>(`models/${encodeURIComponent(name)}`);
      if (this._selected === name) {
        this._renderDetail(detail);
      }
    } catch (e) {
      this._detail.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }

  private _renderList(models: IModel[]): void {
    this._list.replaceChildren(
      h(
        'div',
        { class: 'nbtrack-row' },
        h('b', {}, plural(models.length, 'model')),
        h(
          'button',
          { class: 'jp-mod-styled nbtrack-button', on: { click: () => void this.refresh() } },
          'Refresh'
        )
      ),
      h(
        'ul',
        {},
        ...models.map(m => {
          const li = h(
            'li',
            { class: m.name === this._selected ? 'nbtrack-model-selected' : '' },
            actionLink(m.name, () => void this.showModel(m.name), 'nbtrack-model-link'),
            h('div', { class: 'nbtrack-muted' }, plural(m.versions, 'version')),
            h(
              'div',
              {},
              ...Object.entries(m.aliases).map(([alias, version]) => aliasChip(alias, version))
            )
          );
          li.dataset.model = m.name;
          return li;
        })
      )
    );
  }

  private _renderDetail(d: IModelDetail): void {
    const m = d.model;
    const history = [...d.history].reverse(); // newest first
    const lastMove = new Map<string, IAliasMove>();
    for (const move of history) {
      if (!lastMove.has(move.alias)) {
        lastMove.set(move.alias, move);
      }
    }
    const aliases = Object.entries(m.aliases);
    this._detail.replaceChildren();
    append(
      this._detail,
      h('h2', { class: 'nbtrack-model-name' }, m.name),
      m.description ? h('p', { class: 'nbtrack-model-description' }, m.description) : null,
      h(
        'p',
        { class: 'nbtrack-muted' },
        `${plural(m.versions, 'version')}` +
          (m.latest !== null ? `, latest v${m.latest}` : '') +
          ` · created ${fmtTime(m.created)}` +
          (m.updated ? ` · last registered ${fmtTime(m.updated)}` : '')
      ),
      h('h3', {}, 'Aliases'),
      aliases.length
        ? table(
            ['alias', 'version', 'moved', 'by', 'why'],
            aliases.map(([alias, version]) => {
              const move = lastMove.get(alias);
              return row(
                [aliasChip(alias)],
                [`v${version}`],
                [move ? fmtTime(move.moved) : ''],
                [move ? who(move) : ''],
                [move?.reason ?? '']
              );
            }),
            'nbtrack-model-aliases'
          )
        : h(
            'p',
            { class: 'nbtrack-muted' },
            'No aliases: `nbtrack models alias NAME VERSION ALIAS`.'
          ),
      h('h3', {}, 'Versions'),
      table(
        ['version', 'registered', 'run', 'metrics', 'trained on', 'description'],
        d.versions.map(v => this._versionRow(v)),
        'nbtrack-model-versions'
      ),
      h('h3', {}, 'Alias history'),
      history.length
        ? table(
            ['when', 'alias', 'move', 'by', 'why'],
            history.map(move =>
              row(
                [fmtTime(move.moved)],
                [aliasChip(move.alias)],
                [moveText(move)],
                [who(move)],
                [move.reason ?? '']
              )
            ),
            'nbtrack-model-history'
          )
        : h('p', { class: 'nbtrack-muted' }, 'No alias was ever set.')
    );
  }

  private _versionRow(v: IModelVersion): HTMLTableRowElement {
    const l = v.lineage;
    const metrics = Object.entries(l.metrics)
      .filter(([k]) => !isMetaMetric(k))
      .slice(0, METRICS_SHOWN)
      .map(([k, value]) => h('div', {}, `${k} = ${fmt(value)}`));
    const tr = row(
      [h('b', {}, `v${v.version}`), ' ', ...v.aliases.map(a => aliasChip(a))],
      [
        fmtTime(v.created),
        v.created_by ? h('div', { class: 'nbtrack-muted' }, v.created_by) : null
      ],
      [
        actionLink(
          l.run_name ? `${l.run_name} · ${v.run_id.slice(-8)}` : `run ${v.run_id.slice(-8)}`,
          () => this._app.openRun(v.run_id),
          'nbtrack-run-link nbtrack-model-run',
          { title: `Open run ${v.run_id}` }
        ),
        h('div', { class: 'nbtrack-muted' }, `${l.experiment} · ${v.artifact}`),
        actionLink(
          'Lineage',
          () => this._app.openLineage({ run: v.run_id }),
          'nbtrack-model-lineage',
          {
            title: 'The graph of the dataset versions this run read and wrote'
          }
        )
      ],
      metrics,
      l.data.length
        ? l.data.map(d => this._dataLink(d))
        : [h('span', { class: 'nbtrack-muted' }, 'none recorded')],
      [v.description ?? '']
    );
    tr.dataset.version = String(v.version);
    return tr;
  }

  /** A training dataset version as a link to it in the datasets view; unversioned data as text. */
  private _dataLink(d: IModelData): HTMLElement {
    const what = d.name ? ` (${d.name})` : '';
    if (d.dataset !== null && d.version !== null) {
      const { dataset, version } = d;
      return h(
        'div',
        {},
        actionLink(
          `${dataset}@${version}`,
          () => this._app.openDatasetVersion(dataset, version),
          'nbtrack-model-data',
          { title: 'Open this version in the datasets view' }
        ),
        what
      );
    }
    return h('div', { class: 'nbtrack-muted' }, `unversioned ${d.fingerprint.slice(0, 12)}${what}`);
  }
}

function moveText(m: IAliasMove): string {
  if (m.from_version === null) {
    return `set to v${fmt(m.to_version)}`;
  }
  if (m.to_version === null) {
    return `removed (was v${m.from_version})`;
  }
  return `v${m.from_version} → v${m.to_version}`;
}
