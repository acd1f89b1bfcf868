/**
 * Compare two or more runs: difference table, overlaid metric charts and,
 * for three or more runs, parallel coordinates over what differs.
 */
import { Widget } from '@lumino/widgets';

import { Chart, IAxis, lineChart, parallelCoordinates } from './charts';
import { INbtrackApp } from './context';
import { fmt, h, statusBadge } from './dom';
import { requestAPI } from './handler';
import { ICompare, ICompareRow, JSONValue } from './tokens';

/** Values a parallel-coordinates axis can place (not lists or objects). */
function isScalar(v: JSONValue): v is number | string | boolean | null {
  return v === null || typeof v !== 'object';
}

export class CompareWidget extends Widget {
  private _charts: Chart[] = [];
  private _data: ICompare | null = null;
  private _onlyDiff = true;

  constructor(
    private _app: INbtrackApp,
    readonly runIds: string[]
  ) {
    super();
    this.addClass('nbtrack-detail');
    this.addClass('nbtrack-compare');
    this.id = `nbtrack-compare-${runIds.join('-').slice(0, 200)}`;
    this.title.label = `compare ${runIds.length} runs`;
    this.title.closable = true;
    this.node.append(h('div', {}, 'Loading…'));
    void this.load();
  }

  async load(): Promise<void> {
    try {
      this._data = await requestAPI<ICompare>('compare', { ids: this.runIds.join(',') });
      this._render();
    } catch (e) {
      this.node.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }

  dispose(): void {
    this._charts.forEach(c => c.dispose());
    super.dispose();
  }

  private _render(): void {
    const d = this._data;
    if (!d) {
      return;
    }
    const label = (i: number): string => {
      const r = d.runs[i];
      return `${r.name ?? '(unnamed)'} · ${r.short_id}`;
    };
    this._charts.forEach(c => c.dispose());
    this._charts = [];
    const toggle = h('input', {
      attrs: { type: 'checkbox' },
      on: {
        change: () => {
          this._onlyDiff = toggle.checked;
          this._render();
        }
      }
    });
    toggle.checked = this._onlyDiff;

    const head = h(
      'tr',
      {},
      h('th', {}, ''),
      ...d.runs.map(r =>
        h(
          'th',
          {},
          h(
            'a',
            {
              class: 'nbtrack-link',
              attrs: { href: '#' },
              on: {
                click: e => {
                  e.preventDefault();
                  this._app.openRun(r.run_id);
                }
              }
            },
            r.name ?? '(unnamed)'
          ),
          h('br'),
          statusBadge(r.status),
          ' ',
          r.short_id
        )
      )
    );
    const rows = (title: string, items: ICompareRow[]): HTMLElement[] => {
      const shown = items.filter(p => p.differs || !this._onlyDiff);
      if (!shown.length) {
        return [];
      }
      return [
        h(
          'tr',
          { class: 'nbtrack-group' },
          h('th', { attrs: { colspan: String(d.runs.length + 1) } }, title)
        ),
        ...shown.map(p =>
          h(
            'tr',
            { class: p.differs ? 'nbtrack-differs' : '' },
            h('th', {}, p.key),
            ...p.values.map(v => h('td', {}, fmt(v)))
          )
        )
      ];
    };
    const table = h(
      'table',
      { class: 'nbtrack-table nbtrack-compare-table' },
      h('thead', {}, head),
      h('tbody', {}, ...rows('params', d.params), ...rows('metrics', d.metrics))
    );

    const charts = h('div', { class: 'nbtrack-charts' });
    for (const [metric, byRun] of Object.entries(d.series)) {
      const lines = d.runs
        .map((r, i) => ({ label: label(i), points: byRun[r.run_id] ?? [] }))
        .filter(l => l.points.length);
      if (lines.some(l => l.points.length > 1)) {
        const c = lineChart(metric, lines);
        this._charts.push(c);
        charts.append(c.node);
      }
    }

    const parts: Array<Node> = [
      h('h2', {}, `Comparing ${d.runs.length} runs`),
      h('label', { class: 'nbtrack-row' }, toggle, ' only rows that differ'),
      table
    ];
    if (d.runs.length >= 3) {
      const axes: IAxis[] = [];
      for (const p of [...d.params, ...d.metrics]) {
        const values = p.values.filter(isScalar);
        if ((p.differs || d.metrics.includes(p)) && values.length === p.values.length) {
          axes.push({ label: `${d.params.includes(p) ? 'params' : 'metrics'}.${p.key}`, values });
        }
      }
      if (axes.length >= 2) {
        const pc = parallelCoordinates(
          '',
          d.runs.map((_r, i) => label(i)),
          axes
        );
        this._charts.push(pc);
        parts.push(
          h('section', { class: 'nbtrack-section' }, h('h3', {}, 'Parallel coordinates'), pc.node)
        );
      }
    }
    if (charts.childElementCount) {
      parts.push(h('section', { class: 'nbtrack-section' }, h('h3', {}, 'Metrics'), charts));
    }
    this.node.replaceChildren(h('div', { class: 'nbtrack-detail-body' }, ...parts));
  }
}
