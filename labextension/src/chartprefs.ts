/**
 * The workspace's chart saved with its view: which metric, against what (each run, the start time, a
 * param, or the step histories), log axes and smoothing, per experiment in the browser's localStorage
 * (key `nbtrack:workspace:charts:<experiment>`, `*` for all experiments), beside the saved columns
 * (columns.ts), and restored when the workspace opens again.
 */
import { clampSmoothing } from './smoothing';

const STORAGE_PREFIX = 'nbtrack:workspace:charts:';

/** What the Charts tab draws. */
export interface ISavedChart {
  /** the metric's column key, `metrics.acc` */
  metric: string;
  /** '' each run (bars), 'start', a `params.*` key, or 'steps' (the step histories) */
  x: string;
  logX: boolean;
  logY: boolean;
  /** the step histories' EMA weight, 0 to 0.99 */
  smoothing: number;
}

function storageKey(experiment: string): string {
  return STORAGE_PREFIX + (experiment || '*');
}

/** The chart saved for an experiment ('' = all experiments), or null when none is. */
export function savedChart(experiment: string): ISavedChart | null {
  try {
    const raw = window.localStorage.getItem(storageKey(experiment));
    const v: unknown = raw ? JSON.parse(raw) : null;
    if (!v || typeof v !== 'object') {
      return null;
    }
    const o = v as Record<string, unknown>;
    return {
      metric: typeof o.metric === 'string' ? o.metric : '',
      x: typeof o.x === 'string' ? o.x : '',
      logX: o.logX === true,
      logY: o.logY === true,
      smoothing: clampSmoothing(o.smoothing)
    };
  } catch {
    return null;
  }
}

/** Save the chart shown for an experiment. */
export function saveChart(experiment: string, chart: ISavedChart): void {
  try {
    window.localStorage.setItem(storageKey(experiment), JSON.stringify(chart));
  } catch {
    // storage full or disabled: the chart lasts for this page only
  }
}
