/**
 * How runs look in every view: one stable colour per run (from its id), which metrics are better
 * lower, which keys are nbtrack's own meta metrics or autolog internals (hidden by default).
 */

/** 24 hues 15 degrees apart, mid lightness: a line or swatch reads on light and dark themes. */
const HUES = 24;

/** FNV-1a over the run id: the same run gets the same colour in every view and session. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The run's colour, the same in the runs table, compare, charts and the run view. */
export function runColor(runId: string): string {
  const hue = (hash(runId) % HUES) * (360 / HUES);
  return `hsl(${hue}, 70%, 48%)`;
}

const LOWER_IS_BETTER =
  /(^|[._-])(loss|error|err|mse|rmse|mae|mape|logloss|perplexity|fpr|fnr|latency|time|wall_s|cpu_s|peak_mem_mb|duration)([._-]|$)|_s$/i;

/** True for metrics where smaller values are better (loss, error, rmse, ...; times and memory). */
export function lowerIsBetter(metric: string): boolean {
  return LOWER_IS_BETTER.test(metric);
}

/** nbtrack's own measurements (`_wall_s`, `_cpu_s`, `_peak_mem_mb`, ...): hidden by default. */
export function isMetaMetric(key: string): boolean {
  return key.startsWith('_');
}

/**
 * Params scikit-learn autolog records for a fitted estimator (`model.max_depth`, ...: every
 * `get_params()` entry, dozens per model): hidden by default, pickable in the column picker.
 */
export function isAutologParam(key: string): boolean {
  return key.includes('.');
}

/** The index of the best number in `values` for this metric (null when none is a number). */
export function bestIndex(metric: string, values: unknown[]): number | null {
  const lower = lowerIsBetter(metric);
  let best: number | null = null;
  values.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      return;
    }
    const b = best === null ? null : (values[best] as number);
    if (b === null || (lower ? v < b : v > b)) {
      best = i;
    }
  });
  return best;
}
