/**
 * The workspace's Charts tab: one metric across the runs the workspace lists (its experiment and
 * filter), as bars per run or as a scatter against a param or the start time, with log axes.
 */
import { Widget } from '@lumino/widgets';

import { Chart, IRunPoint, runsChart } from './charts';
import { ISavedChart, saveChart, savedChart } from './chartprefs';
import { INbtrackApp } from './context';
import { h } from './dom';
import { requestAPI } from './handler';
import { historiesError, loadHistories } from './histories';
import { isMetaMetric } from './runlook';
import { RunsModel } from './runsmodel';
import { loadStepSettings, StepChartGrid } from './smoothing';
import { IRunValues } from './tokens';

/** Runs one chart reads at most: GET /values answers every matching run up to this, in one answer. */
export const CHART_LIMIT = 200000;

export class MetricChartsView extends Widget {
  private _metric: HTMLSelectElement;
  private _x: HTMLSelectElement;
  private _logX: HTMLInputElement;
  private _logY: HTMLInputElement;
  private _status: HTMLDivElement;
  private _host: HTMLDivElement;
  private _chart: Chart | null = null;
  private _generation = 0;
  /** the step histories (x = 'steps') and their smoothing, saved with the chart (chartprefs.ts) */
  private _steps: StepChartGrid | null = null;
  private _smoothing = loadStepSettings().smoothing;
  /** the experiment whose saved chart is shown (null before the first refresh) */
  private _shownFor: string | null = null;

  constructor(
    private _app: INbtrackApp,
    private _runs: () => RunsModel
  ) {
    super();
    this.addClass('nbtrack-charts-view');
    const redraw = (): void => {
      this._save();
      void this.draw();
    };
    this._metric = h('select', {
      class: 'nbtrack-chart-metric',
      attrs: { 'aria-label': 'Metric' },
      on: { change: redraw }
    });
    this._x = h('select', {
      class: 'nbtrack-chart-x',
      attrs: { 'aria-label': 'Against' },
      on: { change: redraw }
    });
    this._logX = h('input', { attrs: { type: 'checkbox' }, on: { change: redraw } });
    this._logY = h('input', { attrs: { type: 'checkbox' }, on: { change: redraw } });
    this._status = h('div', {
      class: 'nbtrack-muted nbtrack-chart-status',
      attrs: { role: 'status' }
    });
    this._host = h('div', { class: 'nbtrack-chart-host' });
    this.node.append(
      h(
        'div',
        { class: 'nbtrack-row nbtrack-chart-controls' },
        h('label', {}, 'metric ', this._metric),
        h('label', {}, 'against ', this._x),
        h('label', { class: 'nbtrack-chart-logx' }, this._logX, ' log x'),
        h('label', { class: 'nbtrack-chart-logy' }, this._logY, ' log y')
      ),
      this._status,
      this._host
    );
  }

  /** Fill the choices from the workspace's current columns and draw. */
  async refresh(): Promise<void> {
    const model = this._runs();
    const keys = model.available.map(c => c.sortKey);
    const metrics = keys.filter(k => k.startsWith('metrics.'));
    // Meta metrics last: they are rarely what a chart is for.
    metrics.sort(
      (a, b) => Number(isMetaMetric(a.slice(8))) - Number(isMetaMetric(b.slice(8))) || 0
    );
    const params = keys.filter(k => k.startsWith('params.'));
    fillSelect(
      this._metric,
      metrics.map(k => [k, k])
    );
    fillSelect(this._x, [
      ['', 'each run (bars)'],
      ['start', 'start time'],
      ['steps', 'step (histories)'],
      ...params.map((k): [string, string] => [k, k])
    ]);
    this._restore();
    await this.draw();
  }

  /** What the chart shows now (saved per experiment with the view). */
  get state(): ISavedChart {
    return {
      metric: this._metric.value,
      x: this._x.value,
      logX: this._logX.checked,
      logY: this._logY.checked,
      smoothing: this._smoothing
    };
  }

  private _save(): void {
    saveChart(this._runs().query.experiment, this.state);
  }

  /**
   * On another experiment than last shown: show the chart saved for it, else the default chart (bars
   * of the first metric). A saved metric or param its runs no longer have leaves that choice as is.
   */
  private _restore(): void {
    const experiment = this._runs().query.experiment;
    if (experiment === this._shownFor) {
      return;
    }
    this._shownFor = experiment;
    const saved = savedChart(experiment) ?? {
      metric: this._metric.options[0]?.value ?? '',
      x: '',
      logX: false,
      logY: false,
      smoothing: loadStepSettings().smoothing
    };
    const has = (select: HTMLSelectElement, v: string): boolean =>
      [...select.options].some(o => o.value === v);
    if (has(this._metric, saved.metric)) {
      this._metric.value = saved.metric;
    }
    if (has(this._x, saved.x)) {
      this._x.value = saved.x;
    }
    this._logX.checked = saved.logX;
    this._logY.checked = saved.logY;
    this._smoothing = saved.smoothing;
  }

  /** The step histories of the metric for the first runs of the table, smoothed. */
  private async _drawSteps(metric: string, gen: number): Promise<void> {
    const settings = { smoothing: this._smoothing, logY: this._logY.checked };
    try {
      const { grid, status } = await loadHistories(this._runs().query, metric, settings, s => {
        this._smoothing = s.smoothing;
        this._save();
      });
      if (gen !== this._generation) {
        grid?.dispose();
        return;
      }
      this._steps = grid;
      this._status.textContent = status;
      this._host.append(grid?.node ?? '');
    } catch (e) {
      this._status.replaceChildren(historiesError(e as Error));
    }
  }

  async draw(): Promise<void> {
    const metric = this._metric.value;
    const x = this._x.value;
    const gen = ++this._generation;
    this._chart?.dispose();
    this._chart = null;
    this._steps?.dispose();
    this._steps = null;
    this._host.replaceChildren();
    this._logX.disabled = x === 'steps';
    if (!metric) {
      this._status.textContent = 'No metric logged by these runs.';
      return;
    }
    if (x === 'steps') {
      this._status.textContent = 'Loading…';
      return this._drawSteps(metric, gen);
    }
    this._status.textContent = 'Loading…';
    const started = performance.now();
    const q = this._runs().query;
    const keys = [metric, ...(x ? [x] : [])];
    let res: IRunValues;
    try {
      // Every run the table lists, in one answer of just these columns (GET /values).
      res = await requestAPI<IRunValues>('values', {
        experiment: q.experiment,
        where: q.where,
        order_by: x ? '' : q.orderBy,
        keys: keys.join(','),
        limit: CHART_LIMIT,
        archived: q.archived ? 'true' : ''
      });
    } catch (e) {
      this._status.textContent = (e as Error).message;
      return;
    }
    const total = res.total;
    const read = res.run_id.length;
    const points = runPoints(res, metric, x);
    if (gen !== this._generation) {
      return;
    }
    const logX = this._logX.checked && x !== '' && x !== 'start';
    const logY = this._logY.checked;
    const dropped = points.filter(p => (logX && p.x <= 0) || (logY && p.y <= 0)).length;
    const shown = points.filter(p => !((logX && p.x <= 0) || (logY && p.y <= 0)));
    this._chart = runsChart(metric, shown, {
      mode: x ? 'scatter' : 'bar',
      xLabel: x || 'run',
      time: x === 'start',
      logX,
      logY,
      onClick: runId => this._app.openRun(runId)
    });
    this._host.append(this._chart.node);
    const ms = Math.round(performance.now() - started);
    this._status.textContent =
      `${shown.length.toLocaleString()} run${shown.length === 1 ? '' : 's'}` +
      (total > read
        ? ` (of the first ${read.toLocaleString()} of ${total.toLocaleString()})`
        : '') +
      (read > points.length ? `; ${read - points.length} without a value` : '') +
      (dropped ? `; ${dropped} left out (not positive on a log axis)` : '') +
      ` · ${ms} ms · click a ${x ? 'point' : 'bar'} to open its run`;
  }

  dispose(): void {
    this._chart?.dispose();
    this._steps?.dispose();
    super.dispose();
  }
}

/** The runs that have a number for the metric (and for x, unless x is the run's place), as points. */
function runPoints(res: IRunValues, metric: string, x: string): IRunPoint[] {
  const points: IRunPoint[] = [];
  const ys = res.values[metric];
  const xs = x ? res.values[x] : null;
  for (let i = 0; i < res.run_id.length; i++) {
    const y = ys[i];
    const xv = xs ? xs[i] : points.length;
    if (typeof y === 'number' && typeof xv === 'number') {
      const runId = res.run_id[i];
      points.push({ runId, label: res.name[i] ?? runId, x: xv, y });
    }
  }
  return points;
}

function fillSelect(select: HTMLSelectElement, options: Array<[string, string]>): void {
  const cur = select.value;
  select.replaceChildren(
    ...options.map(([value, label]) => {
      const o = h('option', {}, label);
      o.value = value;
      return o;
    })
  );
  if (options.some(([v]) => v === cur)) {
    select.value = cur;
  }
}
