/**
 * A Lumino DataModel over GET /runs that fetches pages on demand, so the grid
 * scrolls through 100,000 runs holding only the pages it has shown.
 */
import { DataModel } from '@lumino/datagrid';
import { Signal } from '@lumino/signaling';

import { fmt, fmtDuration, fmtTime, STATUS_MARK } from './dom';
import { NbtrackAPIError, requestAPI } from './handler';
import { IRunRow, IRunsPage } from './tokens';

const PAGE = 200;
const FETCH_DELAY_MS = 60;
const MAX_PAGES = 50;
/** Adjacent pages fetched in one GET /runs at most (the server's limit is 1,000 runs). */
const MAX_PAGES_PER_REQUEST = 5;

/** A grid column: its header, its order_by key and how to read a row. */
export interface IColumn {
  header: string;
  sortKey: string;
  width: number;
  get: (row: IRunRow) => string;
}

const BASE_COLUMNS: IColumn[] = [
  {
    header: 'status',
    sortKey: 'status',
    width: 96,
    get: r => `${STATUS_MARK[r.status]} ${r.status}`
  },
  {
    header: 'name',
    sortKey: 'name',
    width: 150,
    get: r => (r.archived ? '[archived] ' : '') + (r.name ?? '')
  },
  { header: 'id', sortKey: 'run_id', width: 80, get: r => r.short_id },
  { header: 'start', sortKey: 'start', width: 150, get: r => fmtTime(r.start) },
  { header: 'duration', sortKey: 'duration_s', width: 80, get: r => fmtDuration(r.duration_s) }
];

/** How a RunsModel shows its columns (the sidebar uses the defaults). */
export interface IRunsModelOptions {
  /** Show the run name in the row header, which stays in place while the grid scrolls sideways. */
  frozenName?: boolean;
  /**
   * Choose and order the shown columns from every available one (default: all of them); `defaults` are
   * the columns `nbtrack runs` would show for the first page (GET /runs?columns=default, asked for only
   * with this option).
   */
  pick?: (all: IColumn[], defaults: string[]) => IColumn[];
}

export const NAME_COLUMN = BASE_COLUMNS[1];

/** The status, id, start and duration columns plus one per params, metrics and tags key. */
export function allColumns(res: IRunsPage, frozenName = false): IColumn[] {
  const cols = res.columns;
  const dyn = (prefix: 'params' | 'metrics' | 'tags', keys: string[]): IColumn[] =>
    keys.map(k => ({
      header: `${prefix}.${k}`,
      sortKey: `${prefix}.${k}`,
      width: 110,
      get: (r: IRunRow) => fmt(r[prefix][k])
    }));
  return [
    ...BASE_COLUMNS.filter(c => !(frozenName && c === NAME_COLUMN)),
    ...dyn('metrics', cols.metrics),
    ...dyn('params', cols.params),
    ...dyn('tags', cols.tags)
  ];
}

export interface IQuery {
  experiment: string;
  where: string;
  orderBy: string;
  /** list archived runs too (GET /runs?archived=true); they are marked in the name */
  archived?: boolean;
}

export class RunsModel extends DataModel {
  constructor(private _options: IRunsModelOptions = {}) {
    super();
  }

  /** Emitted with the error of a failed fetch (null when a fetch succeeds). */
  readonly error = new Signal<this, NbtrackAPIError | null>(this);
  /** Emitted after a fresh first page arrived (total and columns are current). */
  readonly loaded = new Signal<this, void>(this);

  columns: IColumn[] = BASE_COLUMNS;
  /** every column the last answer offers (the column picker's choices) */
  available: IColumn[] = BASE_COLUMNS;
  total = 0;
  token = '';
  private _query: IQuery = { experiment: '', where: '', orderBy: '-start' };
  private _pages = new Map<number, IRunRow[]>();
  private _pending = new Set<number>();
  /** pages the grid asked for, with when: only the latest paint's pages get fetched */
  private _wanted = new Map<number, number>();
  private _flushTimer = 0;
  private _generation = 0;
  private _columnKey = '';
  private _defaults: string[] = [];

  get query(): IQuery {
    return this._query;
  }

  /** Change experiment / where / order_by and reload from the first page. */
  async setQuery(q: Partial<IQuery>): Promise<void> {
    this._query = { ...this._query, ...q };
    await this.refresh();
  }

  /**
   * Reload. Pages already shown stay visible until the new first page arrives,
   * so a live refresh does not blink or lose the scroll position.
   */
  async refresh(visibleRows: number[] = []): Promise<void> {
    const gen = ++this._generation;
    this._pending.clear();
    this._wanted.clear();
    const pages = new Set<number>([0, ...visibleRows.map(r => Math.floor(r / PAGE))]);
    try {
      const results = await Promise.all([...pages].map(p => this._fetch(p)));
      if (gen !== this._generation) {
        return;
      }
      this._pages.clear();
      for (const [i, p] of [...pages].entries()) {
        this._pages.set(p, results[i].runs);
      }
      this._apply(results[0]);
      this.error.emit(null);
      this.emitChanged({ type: 'model-reset' });
      this.loaded.emit();
    } catch (e) {
      if (gen === this._generation) {
        this.error.emit(e as NbtrackAPIError);
      }
    }
  }

  /** The row at a grid index if its page is loaded. */
  rowAt(index: number): IRunRow | undefined {
    return this._pages.get(Math.floor(index / PAGE))?.[index % PAGE];
  }

  rowCount(region: DataModel.RowRegion): number {
    return region === 'body' ? this.total : 1;
  }

  columnCount(region: DataModel.ColumnRegion): number {
    if (region === 'body') {
      return this.columns.length;
    }
    return this._options.frozenName ? 1 : 0;
  }

  /** A header's text: its name and ▲/▼ when the rows are sorted by it. */
  headerText(c: IColumn): string {
    const o = this._query.orderBy;
    const mark = o === c.sortKey ? ' ▲' : o === '-' + c.sortKey ? ' ▼' : '';
    return c.header + mark;
  }

  data(region: DataModel.CellRegion, row: number, column: number): string {
    if (region === 'column-header') {
      return this.headerText(this.columns[column]);
    }
    if (region === 'corner-header') {
      return this.headerText(NAME_COLUMN);
    }
    if (region !== 'body' && region !== 'row-header') {
      return '';
    }
    const r = this.rowAt(row);
    if (!r) {
      this._ensure(Math.floor(row / PAGE));
      if (region === 'row-header') {
        return '…';
      }
      return !this._options.frozenName && column === 1 ? '…' : '';
    }
    return region === 'row-header' ? NAME_COLUMN.get(r) : this.columns[column].get(r);
  }

  metadata(region: DataModel.CellRegion, row: number, column: number): DataModel.Metadata {
    if (region === 'body' && column === 0) {
      return { status: this.rowAt(row)?.status ?? '' };
    }
    if (region === 'row-header') {
      return { archived: !!this.rowAt(row)?.archived };
    }
    return {};
  }

  private _ensure(page: number): void {
    if (this._pages.has(page) || this._pending.has(page)) {
      return;
    }
    // While the user drags or flings the scrollbar the grid paints rows of many pages;
    // wait until scrolling pauses and fetch only what the last paint showed.
    this._wanted.set(page, performance.now());
    window.clearTimeout(this._flushTimer);
    this._flushTimer = window.setTimeout(() => this._flush(), FETCH_DELAY_MS);
  }

  private _flush(): void {
    const newest = Math.max(...this._wanted.values());
    const pages = [...this._wanted]
      .filter(([, t]) => t >= newest - 30)
      .map(([p]) => p)
      .filter(p => !this._pages.has(p) && !this._pending.has(p))
      .sort((a, b) => a - b);
    this._wanted.clear();
    // adjacent pages in one request: a deep page's cost is walking to its offset, paid once for both
    let first = 0;
    for (let i = 1; i <= pages.length; i++) {
      const runEnds =
        i === pages.length || pages[i] !== pages[i - 1] + 1 || i - first === MAX_PAGES_PER_REQUEST;
      if (runEnds) {
        this._load(pages[first], i - first);
        first = i;
      }
    }
  }

  private _load(page: number, count = 1): void {
    const pages = Array.from({ length: count }, (_, i) => page + i);
    pages.forEach(p => this._pending.add(p));
    const gen = this._generation;
    this._fetch(page, count)
      .then(res => {
        if (gen !== this._generation) {
          return;
        }
        for (const p of pages) {
          this._pages.set(p, res.runs.slice((p - page) * PAGE, (p - page + 1) * PAGE));
          this._pending.delete(p);
        }
        this._evict(pages);
        if (res.total !== this.total || this._columnsKeyOf(res) !== this._columnKey) {
          this._apply(res);
          this.emitChanged({ type: 'model-reset' });
        } else {
          this.emitChanged({
            type: 'cells-changed',
            region: 'body',
            row: page * PAGE,
            column: 0,
            rowSpan: Math.min(count * PAGE, Math.max(0, this.total - page * PAGE)),
            columnSpan: this.columns.length
          });
        }
      })
      .catch(e => {
        pages.forEach(p => this._pending.delete(p));
        if (gen === this._generation) {
          this.error.emit(e as NbtrackAPIError);
        }
      });
  }

  /** Keep at most MAX_PAGES pages (oldest loaded go first) so memory stays flat. */
  private _evict(keep: number[]): void {
    for (const p of this._pages.keys()) {
      if (this._pages.size <= MAX_PAGES) {
        break;
      }
      if (!keep.includes(p)) {
        this._pages.delete(p);
      }
    }
  }

  private _fetch(page: number, count = 1): Promise<IRunsPage> {
    return requestAPI<IRunsPage>('runs', {
      experiment: this._query.experiment,
      where: this._query.where,
      order_by: this._query.orderBy,
      limit: count * PAGE,
      offset: page * PAGE,
      archived: this._query.archived ? 'true' : '',
      columns: page === 0 && this._options.pick ? 'default' : ''
    });
  }

  private _columnsKeyOf(res: IRunsPage): string {
    return JSON.stringify(res.columns);
  }

  private _apply(res: IRunsPage): void {
    this.total = res.total;
    this.token = res.token;
    this._columnKey = this._columnsKeyOf(res);
    this.available = allColumns(res, this._options.frozenName);
    this._defaults = res.default_columns ?? this._defaults;
    this.columns = this._options.pick
      ? this._options.pick(this.available, this._defaults)
      : this.available;
  }

  /** Choose the shown columns again (after the column picker changed) without a reload. */
  repick(): void {
    if (this._options.pick) {
      this.columns = this._options.pick(this.available, this._defaults);
      this.emitChanged({ type: 'model-reset' });
    }
  }
}
