/**
 * The workspace's columns: the default choice (the core's, see `defaultColumns`) and the user's
 * choice, saved per experiment in the browser's localStorage.
 */
import { IColumn } from './runsmodel';

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

/**
 * The default column keys: the columns `nbtrack runs` shows for the same runs (`defaults`, chosen once in
 * nbtrack.leaderboard: meta metrics and autolog internals left out, the most used first, params that
 * differ between the runs before those that do not), with status first (its cell is the row's marker), the name left to the frozen row header,
 * and the room of a grid beside a notebook: the first few metrics and params of that choice.
 */
export function defaultColumns(defaults: string[]): string[] {
  const metrics = defaults.filter(k => k.startsWith('metrics.')).slice(0, DEFAULT_METRICS);
  const params = defaults.filter(k => k.startsWith('params.')).slice(0, DEFAULT_PARAMS);
  const facts = defaults.filter(
    k => !/^(metrics|params|tags)\./.test(k) && k !== 'name' && k !== 'status'
  );
  return ['status', ...facts, ...metrics, ...params];
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
