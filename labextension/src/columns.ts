/**
 * The workspace's columns: the default choice (status, who made the runs when several people did,
 * start, duration, the experiment's most used metrics and plain params; meta metrics and autolog
 * internals left out) and the user's
 * choice, saved per experiment in the browser's localStorage.
 */
import { fmt } from './dom';
import { isAutologParam, isMetaMetric } from './runlook';
import { IColumn } from './runsmodel';
import { IRunRow } from './tokens';

const STORAGE_PREFIX = 'nbtrack:workspace:columns:';
const DEFAULT_METRICS = 4;
const DEFAULT_PARAMS = 3;

/** Columns the workspace offers besides the REST answer's. */
export const EXTRA_COLUMNS: IColumn[] = [
  { header: 'experiment', sortKey: 'experiment', width: 110, get: r => r.experiment },
  { header: 'user', sortKey: 'user', width: 130, get: r => r.user ?? '' },
  { header: 'kind', sortKey: 'kind', width: 80, get: r => r.kind },
  {
    header: 'parent',
    sortKey: 'parent',
    width: 90,
    get: r => (r.parent_id ? r.parent_id.slice(-8) : '')
  }
];

/** The key a column is saved under (its order_by key). */
export function columnKey(c: IColumn): string {
  return c.sortKey;
}

function storageKey(experiment: string): string {
  return STORAGE_PREFIX + (experiment || '*');
}

/** The saved column keys of an experiment ('' = all experiments), or null when none are saved. */
export function savedColumns(experiment: string): string[] | null {
  try {
    const raw = window.localStorage.getItem(storageKey(experiment));
    const keys: unknown = raw ? JSON.parse(raw) : null;
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : null;
  } catch {
    return null;
  }
}

/** Save (or, with null, forget) an experiment's column choice. */
export function saveColumns(experiment: string, keys: string[] | null): void {
  try {
    if (keys === null) {
      window.localStorage.removeItem(storageKey(experiment));
    } else {
      window.localStorage.setItem(storageKey(experiment), JSON.stringify(keys));
    }
  } catch {
    // storage full or disabled: the choice lasts for this page only
  }
}

/** The `n` keys the most sampled runs have, most used first (ties: name order). */
function mostUsed(
  sample: IRunRow[],
  part: 'metrics' | 'params',
  keep: (k: string) => boolean,
  n: number
): string[] {
  const counts = new Map<string, number>();
  for (const r of sample) {
    for (const k of Object.keys(r[part])) {
      if (keep(k)) {
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
    }
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([k]) => `${part}.${k}`);
}

/** A param with the same value in every sampled run that has it says nothing in a table: left out. */
function varies(sample: IRunRow[], key: string): boolean {
  const having = sample.filter(r => key in r.params);
  const seen = new Set(having.map(r => fmt(r.params[key])));
  return seen.size > 1 || having.length < 2;
}

/** The default column keys for an experiment's sample of runs. */
export function defaultColumns(sample: IRunRow[], allExperiments: boolean): string[] {
  const metrics = mostUsed(sample, 'metrics', k => !isMetaMetric(k), DEFAULT_METRICS);
  const params = mostUsed(
    sample,
    'params',
    k => !isAutologParam(k) && varies(sample, k),
    DEFAULT_PARAMS
  );
  const people = new Set(sample.map(r => r.user ?? ''));
  return [
    'status',
    ...(allExperiments ? ['experiment'] : []),
    ...(people.size > 1 ? ['user'] : []),
    ...metrics,
    ...params,
    'start',
    'duration_s'
  ];
}

/** Every column the picker offers: the extras, then the REST answer's (name is the frozen header). */
export function offeredColumns(available: IColumn[]): IColumn[] {
  return [...EXTRA_COLUMNS, ...available];
}

/** The shown columns, in the order of `keys`, of those that exist. */
export function pickColumns(offered: IColumn[], keys: string[]): IColumn[] {
  const byKey = new Map(offered.map(c => [columnKey(c), c]));
  return keys.map(k => byKey.get(k)).filter((c): c is IColumn => c !== undefined);
}
