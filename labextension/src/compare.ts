/**
 * Compare two or more runs against a baseline: params and metrics with absolute and relative
 * differences and the best value of each metric marked, one colour per run (its runColor in every
 * chart), overlaid step charts, figures side by side, code diff, environment diff and the data each
 * run read (same version, or a link to the dataset diff); parallel coordinates for three or more.
 */
import { Widget } from '@lumino/widgets';

import { Chart, IAxis, ILine, parallelCoordinates } from './charts';
import { INbtrackApp } from './context';
import { actionLink, fmt, h, statusBadge } from './dom';
import { artifactURL, requestAPI } from './handler';
import { bestIndex, isMetaMetric, runColor } from './runlook';
import { IStepSeries, StepChartGrid } from './smoothing';
import { lineDiff } from './textdiff';
import { ICompare, ICompareRow, IDataRef, IRunDetail, IRunRow, JSONValue } from './tokens';

/** Runs whose full records (code, environment, data, figures) are read for the diff sections. */
const DETAIL_LIMIT = 12;
/** Parallel coordinates stay readable up to this many axes (the ones that differ most come first). */
const MAX_AXES = 20;

/** Values a parallel-coordinates axis can place (not lists or objects). */
function isScalar(v: JSONValue): v is number | string | boolean | null {
  return v === null || typeof v !== 'object';
}

/** "+0.05 (+6.2 %)" from the baseline's number to this one's. */
export function deltaText(base: unknown, value: unknown): string {
  if (typeof base !== 'number' || typeof value !== 'number' || base === value) {
    return '';
  }
  const d = value - base;
  const abs = `${d > 0 ? '+' : '−'}${fmt(Math.abs(d))}`;
  if (base === 0) {
    return abs;
  }
  const rel = (d / Math.abs(base)) * 100;
  const relText = Math.abs(rel) >= 100 ? rel.toFixed(0) : rel.toPrecision(2);
  return `${abs} (${rel > 0 ? '+' : ''}${relText.replace('-', '−')} %)`;
}

/** A run's environment as flat `key.sub` → text pairs (two levels). */
function flatEnv(env: Record<string, JSONValue>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(env)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) {
        out.set(`${k}.${k2}`, fmt(v2));
      }
    } else {
      out.set(k, fmt(v));
    }
  }
  return out;
}

/** One line per run that logged ``metric`` over steps, in the run's colour (compare, Charts tab). */
export function compareLines(d: ICompare, metric: string): ILine[] {
  const byRun = d.series[metric] ?? {};
  return d.runs
    .map(r => ({
      label: `${r.name ?? '(unnamed)'} · ${r.short_id}`,
      color: runColor(r.run_id),
      points: byRun[r.run_id] ?? []
    }))
    .filter(l => l.points.length);
}

function dataLabel(d: IDataRef): string {
  return d.name ?? d.dataset ?? d.fingerprint.slice(0, 12);
}

export class CompareWidget extends Widget {
  private _charts: Array<Chart | StepChartGrid> = [];
  private _data: ICompare | null = null;
  private _details: IRunDetail[] | null = null;
  private _onlyDiff = true;
  private _baseline = 0;

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
      if (this._data.runs.length <= DETAIL_LIMIT) {
        this._details = await Promise.all(
          this._data.runs.map(r => requestAPI<IRunDetail>(`runs/${encodeURIComponent(r.run_id)}`))
        );
        this._render();
      }
    } catch (e) {
      this.node.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }

  /** Make run `index` (in the order of the answer) the baseline. */
  setBaseline(index: number): void {
    this._baseline = index;
    this._render();
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
    this._charts.forEach(c => c.dispose());
    this._charts = [];
    const scroll = this.node.scrollTop;
    const parts: Node[] = [
      h('h2', {}, `Comparing ${d.runs.length} runs`),
      this._controls(d),
      this._table(d)
    ];
    const pc = this._parallel(d);
    if (pc) {
      parts.push(pc);
    }
    const charts = this._stepCharts(d);
    if (charts) {
      parts.push(charts);
    }
    if (this._details) {
      parts.push(...this._detailSections(d, this._details));
    } else if (d.runs.length > DETAIL_LIMIT) {
      parts.push(
        h(
          'p',
          { class: 'nbtrack-muted' },
          `Code, environment, data and figures are compared for up to ${DETAIL_LIMIT} runs.`
        )
      );
    }
    this.node.replaceChildren(h('div', { class: 'nbtrack-detail-body' }, ...parts));
    this.node.scrollTop = scroll;
  }

  private _controls(d: ICompare): HTMLElement {
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
    const baseline = h('select', {
      class: 'nbtrack-baseline',
      attrs: { 'aria-label': 'Baseline run' },
      on: { change: () => this.setBaseline(Number(baseline.value)) }
    });
    d.runs.forEach((r, i) => {
      const o = h('option', {}, `${r.name ?? '(unnamed)'} · ${r.short_id}`);
      o.value = String(i);
      baseline.append(o);
    });
    baseline.value = String(this._baseline);
    return h(
      'div',
      { class: 'nbtrack-row nbtrack-compare-controls' },
      h('label', {}, 'baseline ', baseline),
      h('label', {}, toggle, ' only rows that differ'),
      h(
        'span',
        { class: 'nbtrack-muted' },
        '★ best value of a metric (lower is better for loss, error, time…)'
      )
    );
  }

  private _runHeader(r: IRunRow, i: number): HTMLElement {
    const isBase = i === this._baseline;
    return h(
      'th',
      { class: `nbtrack-run-head${isBase ? ' nbtrack-is-baseline' : ''}` },
      h('span', {
        class: 'nbtrack-swatch',
        attrs: { style: `background:${runColor(r.run_id)}`, 'aria-hidden': 'true' }
      }),
      ' ',
      this._runLink(r),
      h('br'),
      statusBadge(r.status),
      ' ',
      r.short_id,
      ' ',
      isBase
        ? h('span', { class: 'nbtrack-baseline-mark' }, 'baseline')
        : h(
            'button',
            {
              class: 'jp-mod-styled nbtrack-button nbtrack-set-baseline',
              title: 'Compare the other runs against this one',
              on: { click: () => this.setBaseline(i) }
            },
            'baseline'
          )
    );
  }

  private _runLink(r: IRunRow): HTMLElement {
    return actionLink(r.name ?? '(unnamed)', () => this._app.openRun(r.run_id));
  }

  private _table(d: ICompare): HTMLElement {
    const b = this._baseline;
    const rows = (title: string, items: ICompareRow[], metrics: boolean): HTMLElement[] => {
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
        ...shown.map(p => {
          const best = metrics && p.differs ? bestIndex(p.key, p.values) : null;
          return h(
            'tr',
            { class: p.differs ? 'nbtrack-differs' : '' },
            h('th', {}, p.key),
            ...p.values.map((v, i) => {
              const isBest = best === i;
              const changed = !metrics && i !== b && fmt(v) !== fmt(p.values[b]);
              const delta = metrics && i !== b ? deltaText(p.values[b], v) : '';
              return h(
                'td',
                {
                  class: isBest ? 'nbtrack-best' : changed ? 'nbtrack-changed' : '',
                  title: isBest ? 'best' : ''
                },
                isBest ? '★ ' : '',
                fmt(v),
                delta ? h('div', { class: 'nbtrack-delta' }, delta) : null
              );
            })
          );
        })
      ];
    };
    return h(
      'table',
      { class: 'nbtrack-table nbtrack-compare-table' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), ...d.runs.map((r, i) => this._runHeader(r, i)))),
      h('tbody', {}, ...rows('params', d.params, false), ...rows('metrics', d.metrics, true))
    );
  }

  private _stepCharts(d: ICompare): HTMLElement | null {
    const charts: IStepSeries[] = [];
    for (const metric of Object.keys(d.series)) {
      const lines = compareLines(d, metric);
      if (lines.some(l => l.points.length > 1)) {
        charts.push({ title: metric, lines });
      }
    }
    if (!charts.length) {
      return null;
    }
    // One smoothing control for every chart (remembered in this browser for every view).
    const grid = new StepChartGrid(charts);
    this._charts.push(grid);
    return h('section', { class: 'nbtrack-section' }, h('h3', {}, 'Metrics over steps'), grid.node);
  }

  private _parallel(d: ICompare): HTMLElement | null {
    if (d.runs.length < 3) {
      return null;
    }
    // Axes: params and metrics that differ, every run has, not nbtrack's meta metrics; at most MAX_AXES.
    const axes: IAxis[] = [];
    const candidates = [
      ...d.params.map(p => ({ p, part: 'params' })),
      ...d.metrics.filter(m => !isMetaMetric(m.key)).map(p => ({ p, part: 'metrics' }))
    ];
    let qualifying = 0;
    for (const { p, part } of candidates) {
      const complete = p.values.every(v => v !== null && isScalar(v));
      if (p.differs && complete) {
        qualifying += 1;
        if (axes.length < MAX_AXES) {
          axes.push({ label: `${part}.${p.key}`, values: p.values.filter(isScalar) });
        }
      }
    }
    if (axes.length < 2) {
      return null;
    }
    const pc = parallelCoordinates(
      '',
      d.runs.map(r => `${r.name ?? '(unnamed)'} · ${r.short_id}`),
      axes,
      d.runs.map(r => runColor(r.run_id))
    );
    this._charts.push(pc);
    const capped =
      qualifying > axes.length
        ? h(
            'p',
            { class: 'nbtrack-muted' },
            `The first ${axes.length} of the ${qualifying} params and metrics that differ.`
          )
        : null;
    return h(
      'section',
      { class: 'nbtrack-section' },
      h('h3', {}, 'Parallel coordinates'),
      capped,
      pc.node
    );
  }

  private _detailSections(d: ICompare, runs: IRunDetail[]): HTMLElement[] {
    const out: HTMLElement[] = [];
    const figures = this._figures(runs);
    if (figures) {
      out.push(figures);
    }
    out.push(this._codeDiff(runs), this._dataSection(runs), this._envDiff(runs));
    return out;
  }

  private _figures(runs: IRunDetail[]): HTMLElement | null {
    const names = [
      ...new Set(
        runs.flatMap(r =>
          r.artifacts
            .filter(a => a.kind === 'figure' || a.media_type.startsWith('image/'))
            .map(a => a.name)
        )
      )
    ];
    if (!names.length) {
      return null;
    }
    const table = h(
      'table',
      { class: 'nbtrack-table nbtrack-compare-figures' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), ...runs.map(r => h('th', {}, this._runLink(r))))),
      h(
        'tbody',
        {},
        ...names.map(name =>
          h(
            'tr',
            {},
            h('th', {}, name),
            ...runs.map(r => {
              const a = r.artifacts.find(x => x.name === name);
              return h(
                'td',
                {},
                a
                  ? h('img', { attrs: { src: artifactURL(a.hash), alt: name, loading: 'lazy' } })
                  : ''
              );
            })
          )
        )
      )
    );
    return h('section', { class: 'nbtrack-section' }, h('h3', {}, 'Figures'), table);
  }

  private _codeDiff(runs: IRunDetail[]): HTMLElement {
    const base = runs[this._baseline];
    const blocks: Node[] = [];
    runs.forEach((r, i) => {
      if (i === this._baseline) {
        return;
      }
      const title = `${base.name ?? base.short_id} → ${r.name ?? r.short_id}`;
      if ((base.code ?? '') === (r.code ?? '')) {
        blocks.push(h('p', { class: 'nbtrack-muted' }, `${title}: same code`));
        return;
      }
      const diff = lineDiff(base.code ?? '', r.code ?? '');
      const body = diff
        ? h(
            'pre',
            { class: 'nbtrack-code-diff' },
            ...diff.map(([op, line]) =>
              h(
                'div',
                {
                  class: op === '+' ? 'nbtrack-diff-add' : op === '-' ? 'nbtrack-diff-del' : ''
                },
                `${op} ${line}`
              )
            )
          )
        : h('p', { class: 'nbtrack-muted' }, 'The code is too long to diff here.');
      blocks.push(h('details', { attrs: { open: '' } }, h('summary', {}, title), body));
    });
    return h('section', { class: 'nbtrack-section' }, h('h3', {}, 'Code'), ...blocks);
  }

  private _envDiff(runs: IRunDetail[]): HTMLElement {
    const envs = runs.map(r => flatEnv(r.environment));
    const keys = [...new Set(envs.flatMap(e => [...e.keys()]))].sort();
    const differing = keys.filter(k => new Set(envs.map(e => e.get(k) ?? '')).size > 1);
    const title = h('h3', {}, 'Environment');
    if (!differing.length) {
      return h(
        'section',
        { class: 'nbtrack-section' },
        title,
        h('p', { class: 'nbtrack-muted nbtrack-env-same' }, 'Same environment in every run.')
      );
    }
    const table = h(
      'table',
      { class: 'nbtrack-table nbtrack-env-diff' },
      h('thead', {}, h('tr', {}, h('th', {}, ''), ...runs.map(r => h('th', {}, this._runLink(r))))),
      h(
        'tbody',
        {},
        ...differing.map(k =>
          h(
            'tr',
            {},
            h('th', {}, k),
            ...envs.map((e, i) =>
              h(
                'td',
                {
                  class:
                    i !== this._baseline && (e.get(k) ?? '') !== (envs[this._baseline].get(k) ?? '')
                      ? 'nbtrack-changed'
                      : ''
                },
                e.get(k) ?? '—'
              )
            )
          )
        )
      )
    );
    return h('section', { class: 'nbtrack-section' }, title, table);
  }

  private _dataSection(runs: IRunDetail[]): HTMLElement {
    const title = h('h3', {}, 'Data read');
    const labels = [...new Set(runs.flatMap(r => r.inputs.map(dataLabel)))];
    if (!labels.length) {
      return h(
        'section',
        { class: 'nbtrack-section' },
        title,
        h('p', { class: 'nbtrack-muted' }, 'No run recorded the data it read.')
      );
    }
    const base = runs[this._baseline];
    const rows = labels.map(label => {
      const refs = runs.map(r => r.inputs.find(x => dataLabel(x) === label) ?? null);
      const baseRef = base.inputs.find(x => dataLabel(x) === label) ?? null;
      const same = refs.every(x => x && x.fingerprint === refs[0]?.fingerprint);
      return h(
        'tr',
        {},
        h('th', {}, label),
        ...refs.map((ref, i) => {
          if (!ref) {
            return h('td', {}, '—');
          }
          const text =
            ref.dataset !== null && ref.version !== null
              ? `${ref.dataset}@${ref.version}`
              : ref.fingerprint.slice(0, 12);
          const changed =
            i !== this._baseline && baseRef && baseRef.fingerprint !== ref.fingerprint;
          const diffable =
            changed &&
            baseRef.dataset !== null &&
            baseRef.dataset === ref.dataset &&
            baseRef.version !== null &&
            ref.version !== null;
          return h(
            'td',
            { class: changed ? 'nbtrack-changed' : '' },
            text,
            diffable
              ? h(
                  'div',
                  {},
                  actionLink(
                    `diff v${baseRef.version} → v${ref.version}`,
                    () =>
                      this._app.openDiff(ref.dataset ?? '', baseRef.version ?? 0, ref.version ?? 0),
                    'nbtrack-data-diff-link'
                  )
                )
              : null
          );
        }),
        h('td', { class: 'nbtrack-muted' }, same ? 'same data' : 'differs')
      );
    });
    return h(
      'section',
      { class: 'nbtrack-section' },
      title,
      h(
        'table',
        { class: 'nbtrack-table nbtrack-data-compare' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, ''),
            ...runs.map(r => h('th', {}, this._runLink(r))),
            h('th', {}, '')
          )
        ),
        h('tbody', {}, ...rows)
      )
    );
  }
}
