/**
 * The workspace Charts tab's step histories: one metric logged over steps, one line per run for the
 * first runs the table lists (its experiment, filter and order), smoothed like the run and compare
 * views' step charts (smoothing.ts).
 */
import { compareLines } from './compare';
import { h } from './dom';
import { requestAPI } from './handler';
import { IQuery } from './runsmodel';
import { IStepChartSettings, StepChartGrid } from './smoothing';
import { ICompare, IRunsPage } from './tokens';

/** Runs whose histories are overlaid (W&B's line plots also show the first 10 runs by default). */
export const HISTORY_RUNS = 10;

/** What the Charts tab shows for the histories: the grid and a line saying what it holds. */
export interface IHistories {
  grid: StepChartGrid | null;
  status: string;
}

/**
 * The step histories of ``metric`` (a `metrics.*` key) for the first HISTORY_RUNS runs of the query
 * that logged it: their ids from GET /runs, their series from GET /compare.
 */
export async function loadHistories(
  q: IQuery,
  metric: string,
  settings: IStepChartSettings,
  onChange: (s: IStepChartSettings) => void
): Promise<IHistories> {
  const page = await requestAPI<IRunsPage>('runs', {
    experiment: q.experiment,
    where: [q.where ? `(${q.where})` : '', `${metric} is not null`].filter(Boolean).join(' and '),
    order_by: q.orderBy,
    limit: HISTORY_RUNS,
    fields: 'name',
    archived: q.archived ? 'true' : ''
  });
  if (!page.runs.length) {
    return { grid: null, status: `No run logged ${metric}.` };
  }
  const d = await requestAPI<ICompare>('compare', { ids: page.runs.map(r => r.run_id).join(',') });
  const key = metric.slice('metrics.'.length);
  const lines = compareLines(d, key);
  const steps = Math.max(0, ...lines.map(l => l.points.length));
  const grid = new StepChartGrid([{ title: key, lines }], settings, onChange, false);
  const first = page.total > page.runs.length ? `the first ${page.runs.length} of ` : '';
  return {
    grid,
    status:
      `${key} over steps: ${first}${page.total.toLocaleString()} run${page.total === 1 ? '' : 's'}` +
      ` (${steps.toLocaleString()} step${steps === 1 ? '' : 's'} at most), in the table's order`
  };
}

/** The note shown when the histories cannot load. */
export function historiesError(e: Error): HTMLElement {
  return h('div', { class: 'nbtrack-error' }, e.message);
}
