/**
 * A sweep's effect of each param on a chosen metric, like W&B's parameter importance panel: per param,
 * the Spearman rank correlation with the metric and a simple importance (the share of the metric's
 * variance its values explain, η²), sorted, with the number of runs used; a param with one value is
 * listed as "no effect measurable". Computed here from the sweep's jobs the run view already read
 * (GET /runs?where=parent = ...): exact, and no extra request (docs/workspace.md, "Sweep").
 */
import { fmt, h } from './dom';
import { isAutologParam, isMetaMetric, lowerIsBetter } from './runlook';
import { IRunRow, JSONValue } from './tokens';

/** Numeric params with more distinct values than this are grouped in as many rank bins for η². */
export const IMPORTANCE_BINS = 5;

/** One param's effect on the metric. */
export interface IParamEffect {
  param: string;
  /** runs that have both the param and a finite value of the metric */
  runs: number;
  /** distinct values of the param among those runs */
  values: number;
  /** Spearman's rank correlation (Pearson on average ranks); null for text values, one value, or < 3 runs */
  correlation: number | null;
  /** η²: the share of the metric's variance explained by the param's values (0 to 1); null with one value */
  importance: number | null;
  /** the value, when the param has only one */
  only: JSONValue | undefined;
}

/** The metric most jobs logged (not nbtrack's meta metrics): what a sweep's views rank by. */
export function commonMetric(jobs: IRunRow[]): string | undefined {
  const counts = new Map<string, number>();
  jobs.forEach(j =>
    Object.keys(j.metrics)
      .filter(k => !isMetaMetric(k))
      .forEach(k => counts.set(k, (counts.get(k) ?? 0) + 1))
  );
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
}

/** Average ranks (1-based; tied values share the mean of their ranks). */
export function ranks(values: number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(values.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) {
      j++;
    }
    const mean = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      out[order[k][1]] = mean;
    }
    i = j + 1;
  }
  return out;
}

function pearson(x: number[], y: number[]): number | null {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : null;
}

/** Spearman's ρ: Pearson's correlation of the average ranks (null below 3 pairs or with no spread). */
export function spearman(x: number[], y: number[]): number | null {
  return x.length >= 3 ? pearson(ranks(x), ranks(y)) : null;
}

/** η² of ``y`` grouped by ``groups``: between-group sum of squares over the total (0 when y is flat). */
function etaSquared(groups: string[], y: number[]): number {
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  const total = y.reduce((a, v) => a + (v - mean) ** 2, 0);
  if (!(total > 0)) {
    return 0;
  }
  const by = new Map<string, number[]>();
  groups.forEach((g, i) => by.set(g, [...(by.get(g) ?? []), y[i]]));
  let between = 0;
  for (const ys of by.values()) {
    const m = ys.reduce((a, b) => a + b, 0) / ys.length;
    between += ys.length * (m - mean) ** 2;
  }
  return between / total;
}

/** A param value as a number for correlation (booleans as 0/1), or null for text and the rest. */
function asNumber(v: JSONValue): number | null {
  if (typeof v === 'boolean') {
    return v ? 1 : 0;
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The group of each value for η²: the value itself, or its rank bin when a number param has many. */
function groupsOf(values: JSONValue[], numbers: number[] | null): string[] {
  const keys = values.map(v => JSON.stringify(v));
  if (!numbers || new Set(keys).size <= IMPORTANCE_BINS) {
    return keys;
  }
  const r = ranks(numbers);
  return r.map(rank =>
    String(Math.min(IMPORTANCE_BINS - 1, Math.floor(((rank - 1) / r.length) * IMPORTANCE_BINS)))
  );
}

/**
 * Each param's effect on ``metric`` over the jobs: params with two values or more first, by
 * importance, then by the size of the correlation; params with one value last.
 */
export function paramEffects(jobs: IRunRow[], metric: string): IParamEffect[] {
  const params = [...new Set(jobs.flatMap(j => Object.keys(j.params)))].filter(
    k => !isAutologParam(k)
  );
  const effects = params.map((param): IParamEffect => {
    const used = jobs.filter(j => {
      const m = j.metrics[metric];
      return param in j.params && typeof m === 'number' && Number.isFinite(m);
    });
    const xs = used.map(j => j.params[param]);
    const y = used.map(j => j.metrics[metric] as number);
    const distinct = new Set(xs.map(v => JSON.stringify(v))).size;
    const numbers = xs.map(asNumber);
    const numeric = numbers.every((v): v is number => v !== null) ? numbers : null;
    return {
      param,
      runs: used.length,
      values: distinct,
      correlation: distinct > 1 && numeric ? spearman(numeric, y) : null,
      importance: distinct > 1 ? etaSquared(groupsOf(xs, numeric), y) : null,
      only: distinct === 1 ? xs[0] : undefined
    };
  });
  const size = (e: IParamEffect): number => (e.importance === null ? -1 : e.importance);
  return effects.sort(
    (a, b) =>
      size(b) - size(a) ||
      Math.abs(b.correlation ?? 0) - Math.abs(a.correlation ?? 0) ||
      a.param.localeCompare(b.param)
  );
}

function bar(share: number, cls: string): HTMLElement {
  const el = h('span', { class: `nbtrack-effect-bar ${cls}`, attrs: { 'aria-hidden': 'true' } });
  el.style.width = `${Math.round(Math.min(1, Math.abs(share)) * 80)}px`;
  return el;
}

function effectRow(e: IParamEffect): HTMLElement {
  if (e.importance === null) {
    return h(
      'tr',
      { class: 'nbtrack-effect-none' },
      h('td', {}, e.param),
      h('td', { attrs: { colspan: '2' } }, 'no effect measurable'),
      h('td', {}, String(e.runs)),
      h('td', {}, e.runs ? `one value: ${fmt(e.only)}` : 'no run has it with the metric')
    );
  }
  const rho = e.correlation;
  return h(
    'tr',
    { attrs: { 'data-param': e.param } },
    h('td', {}, e.param),
    h(
      'td',
      { class: 'nbtrack-effect-importance' },
      bar(e.importance, 'nbtrack-effect-imp'),
      ' ',
      e.importance.toFixed(2)
    ),
    h(
      'td',
      { class: 'nbtrack-effect-correlation' },
      rho === null
        ? e.runs < 3 && e.values > 1
          ? 'too few runs'
          : 'text values: no order'
        : h(
            'span',
            {},
            bar(rho, rho < 0 ? 'nbtrack-effect-neg' : 'nbtrack-effect-pos'),
            ' ',
            `${rho > 0 ? '+' : rho < 0 ? '−' : ''}${Math.abs(rho).toFixed(2)}`
          )
    ),
    h('td', {}, String(e.runs)),
    h('td', {}, `${e.values} values`)
  );
}

/**
 * The section of a sweep's run view: a metric menu (the jobs' metrics, ``initial`` first chosen)
 * and the table of each param's effect on it, redrawn when the metric changes.
 */
export function sweepEffects(jobs: IRunRow[], initial: string | undefined): HTMLElement | null {
  const metrics = [...new Set(jobs.flatMap(j => Object.keys(j.metrics)))]
    .filter(k => !isMetaMetric(k))
    .sort();
  if (!metrics.length || !jobs.some(j => Object.keys(j.params).length)) {
    return null;
  }
  const select = h('select', {
    class: 'nbtrack-effect-metric',
    attrs: { 'aria-label': 'Metric of the param effects' }
  });
  for (const m of metrics) {
    const o = h('option', {}, m);
    o.value = m;
    select.append(o);
  }
  select.value = initial && metrics.includes(initial) ? initial : metrics[0];
  const note = h('p', { class: 'nbtrack-muted nbtrack-effect-note' });
  const table = h('table', { class: 'nbtrack-table nbtrack-effects' });
  const draw = (): void => {
    const metric = select.value;
    const effects = paramEffects(jobs, metric);
    const used = jobs.filter(j => typeof j.metrics[metric] === 'number').length;
    note.textContent =
      `${used} of ${jobs.length} jobs logged ${metric} (${lowerIsBetter(metric) ? 'lower' : 'higher'} is better). ` +
      'Correlation: Spearman’s rank correlation of the param with the metric (+ the metric rises with the param). ' +
      `Importance: the share of the metric’s variance explained by the param’s values (η²; a number param with more than ${IMPORTANCE_BINS} values in ${IMPORTANCE_BINS} rank groups), one param at a time.`;
    table.replaceChildren(
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['param', 'importance', 'correlation', 'runs', 'values'].map(t => h('th', {}, t))
        )
      ),
      h('tbody', {}, ...effects.map(effectRow))
    );
  };
  select.addEventListener('change', draw);
  draw();
  return h(
    'section',
    { class: 'nbtrack-section nbtrack-sweep-effects' },
    h('h3', {}, 'Effect of each param'),
    h('label', {}, 'on metric ', select),
    note,
    table
  );
}
