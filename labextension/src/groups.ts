/**
 * The workspace's grouped runs table: runs grouped by experiment, by sweep or by parent notebook
 * run, each group a collapsible row with aggregates (run count, the best value of each metric
 * column, the total duration). Grouping needs every matching run in the browser, so it reads at most
 * GROUP_LIMIT runs and says so when the filter matches more.
 */
import { DataModel } from '@lumino/datagrid';
import { Signal } from '@lumino/signaling';

import { fmt, fmtDuration } from './dom';
import { NbtrackAPIError, requestAPI } from './handler';
import { bestIndex } from './runlook';
import { IColumn, IQuery, NAME_COLUMN } from './runsmodel';
import { IRunRow, IRunsPage } from './tokens';

export type GroupBy = 'experiment' | 'sweep' | 'parent';

export const GROUP_LIMIT = 5000;
const PAGE = 1000;

export interface IGroup {
  key: string;
  label: string;
  runs: IRunRow[];
  expanded: boolean;
}

type Row = { group: IGroup; run: null } | { group: IGroup; run: IRunRow };

/** The run a run belongs under: its experiment, its sweep, or its notebook run ('' = none). */
function groupKey(by: GroupBy, run: IRunRow, byId: Map<string, IRunRow>): string {
  if (by === 'experiment') {
    return run.experiment;
  }
  const wanted = by === 'sweep' ? 'sweep' : 'notebook';
  let current: IRunRow | undefined = run;
  for (let depth = 0; current && depth < 8; depth++) {
    if (current.kind === wanted) {
      return current.run_id;
    }
    current = current.parent_id ? byId.get(current.parent_id) : undefined;
  }
  return '';
}

function groupLabel(by: GroupBy, key: string, byId: Map<string, IRunRow>): string {
  if (by === 'experiment') {
    return key;
  }
  if (!key) {
    return by === 'sweep' ? '(not in a sweep)' : '(no notebook run)';
  }
  const word = by === 'sweep' ? 'sweep' : 'notebook';
  const name = byId.get(key)?.name ?? key.slice(-8);
  // "sweep iris", not "sweep sweep iris" (sweeps are named "sweep <notebook>" by default)
  return name.toLowerCase().startsWith(word) ? name : `${word} ${name}`;
}

export class GroupedRunsModel extends DataModel {
  readonly error = new Signal<this, NbtrackAPIError | null>(this);
  readonly loaded = new Signal<this, void>(this);
  columns: IColumn[] = [];
  groups: IGroup[] = [];
  /** runs the query matched (may exceed the runs read, GROUP_LIMIT) */
  total = 0;
  read = 0;
  private _rows: Row[] = [];
  private _by: GroupBy = 'experiment';
  private _generation = 0;

  get by(): GroupBy {
    return this._by;
  }

  async load(query: IQuery, by: GroupBy): Promise<void> {
    const gen = ++this._generation;
    const expanded = new Set(this.groups.filter(g => g.expanded).map(g => g.key));
    try {
      const runs: IRunRow[] = [];
      let total = 0;
      for (let offset = 0; offset < GROUP_LIMIT; offset += PAGE) {
        const page = await requestAPI<IRunsPage>('runs', {
          experiment: query.experiment,
          where: query.where,
          order_by: query.orderBy,
          archived: query.archived ? 'true' : '',
          limit: PAGE,
          offset
        });
        runs.push(...page.runs);
        total = page.total;
        if (runs.length >= total || !page.runs.length) {
          break;
        }
      }
      if (gen !== this._generation) {
        return;
      }
      this._by = by;
      this.total = total;
      this.read = runs.length;
      const byId = new Map(runs.map(r => [r.run_id, r]));
      const groups = new Map<string, IGroup>();
      for (const r of runs) {
        const key = groupKey(by, r, byId);
        let g = groups.get(key);
        if (!g) {
          g = { key, label: groupLabel(by, key, byId), runs: [], expanded: expanded.has(key) };
          groups.set(key, g);
        }
        g.runs.push(r);
      }
      // Groups in the order of their first run (the table's sort), the "no group" bucket last.
      this.groups = [...groups.values()].sort((a, b) => (a.key === '' ? 1 : b.key === '' ? -1 : 0));
      this._layout();
      this.error.emit(null);
      this.loaded.emit();
    } catch (e) {
      if (gen === this._generation) {
        this.error.emit(e as NbtrackAPIError);
      }
    }
  }

  setColumns(columns: IColumn[]): void {
    this.columns = columns;
    this.emitChanged({ type: 'model-reset' });
  }

  /** Open or close a group (row index of its header row). */
  toggle(row: number): void {
    const r = this._rows[row];
    if (r && r.run === null) {
      r.group.expanded = !r.group.expanded;
      this._layout();
    }
  }

  setAllExpanded(expanded: boolean): void {
    this.groups.forEach(g => (g.expanded = expanded));
    this._layout();
  }

  /** The run shown at a row, or null for a group's header row. */
  rowAt(row: number): IRunRow | null {
    return this._rows[row]?.run ?? null;
  }

  isGroupRow(row: number): boolean {
    const r = this._rows[row];
    return r !== undefined && r.run === null;
  }

  rowCount(region: DataModel.RowRegion): number {
    return region === 'body' ? this._rows.length : 1;
  }

  columnCount(region: DataModel.ColumnRegion): number {
    return region === 'body' ? this.columns.length : 1;
  }

  data(region: DataModel.CellRegion, row: number, column: number): string {
    if (region === 'column-header') {
      return this.columns[column]?.header ?? '';
    }
    if (region === 'corner-header') {
      return NAME_COLUMN.header;
    }
    const r = this._rows[row];
    if (!r) {
      return '';
    }
    if (r.run !== null) {
      return region === 'row-header'
        ? `    ${NAME_COLUMN.get(r.run)}`
        : this.columns[column].get(r.run);
    }
    if (region === 'row-header') {
      const n = r.group.runs.length;
      return `${r.group.expanded ? '▾' : '▸'} ${r.group.label} (${n} run${n === 1 ? '' : 's'})`;
    }
    return this._aggregate(r.group, this.columns[column]);
  }

  metadata(region: DataModel.CellRegion, row: number, column: number): DataModel.Metadata {
    const r = this._rows[row];
    if (!r) {
      return {};
    }
    if (r.run === null) {
      return { group: true };
    }
    return region === 'body' && column === 0 ? { status: r.run.status } : {};
  }

  /** A group's value in a column: the best of a metric, the total duration, the status counts. */
  private _aggregate(g: IGroup, c: IColumn): string {
    if (c.sortKey.startsWith('metrics.')) {
      const key = c.sortKey.slice('metrics.'.length);
      const values = g.runs.map(r => r.metrics[key]);
      const best = bestIndex(key, values);
      return best === null ? '' : `best ${fmt(values[best])}`;
    }
    if (c.sortKey === 'duration_s') {
      return `Σ ${fmtDuration(g.runs.reduce((s, r) => s + (r.duration_s ?? 0), 0))}`;
    }
    if (c.sortKey === 'status') {
      const failed = g.runs.filter(r => r.status === 'failed' || r.status === 'crashed').length;
      const ok = g.runs.filter(r => r.status === 'ok').length;
      return `${ok} ok${failed ? `, ${failed} failed` : ''}`;
    }
    return '';
  }

  private _layout(): void {
    const rows: Row[] = [];
    for (const g of this.groups) {
      rows.push({ group: g, run: null });
      if (g.expanded) {
        rows.push(...g.runs.map(run => ({ group: g, run })));
      }
    }
    this._rows = rows;
    this.emitChanged({ type: 'model-reset' });
  }
}
