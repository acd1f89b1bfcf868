/**
 * The experiments workspace: a main-area tab with the runs table (virtualized Lumino DataGrid,
 * frozen name column, column picker saved per experiment, grouping, multi-select) and charts of a
 * metric across runs. The sidebar stays the compact list; this is where runs are looked at.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import {
  BasicKeyHandler,
  BasicMouseHandler,
  BasicSelectionModel,
  DataGrid,
  DataModel,
  TextRenderer
} from '@lumino/datagrid';
import { Signal } from '@lumino/signaling';
import { Panel, TabPanel, Widget } from '@lumino/widgets';

import { themeChanged } from './charts';
import { MetricChartsView } from './chartsview';
import {
  columnKey,
  defaultColumns,
  offeredColumns,
  pickColumns,
  saveColumns,
  savedColumns
} from './columns';
import { INbtrackApp } from './context';
import { cssVar, h } from './dom';
import { GROUP_LIMIT, GroupBy, GroupedRunsModel } from './groups';
import { NbtrackAPIError } from './handler';
import { followSize, gridStyle, renderers } from './panel';
import {
  countText,
  IRunListControls,
  loadExperimentOptions,
  pollChanges,
  runListControls,
  selectedRows,
  selectedRunIds,
  showQueryError,
  updateCompareButton
} from './runlist';
import { ModelsView } from './models';
import { PaintGrid } from './paintgrid';
import { RunEditBar } from './runedit';
import { IColumn, RunsModel } from './runsmodel';
import { IRunRow } from './tokens';

export const ROW_HEIGHT = 24;
const NAME_WIDTH = 220;

/** What the workspace opens on. */
export interface IWorkspaceOptions {
  experiment?: string;
  where?: string;
}

type AnyRunsModel = RunsModel | GroupedRunsModel;

class WorkspaceMouseHandler extends BasicMouseHandler {
  constructor(private _view: RunsWorkspace) {
    super();
  }

  onMouseDown(grid: DataGrid, event: MouseEvent): void {
    const hit = grid.hitTest(event.clientX, event.clientY);
    const onLabel = hit.x > 4 && hit.x < hit.width - 6; // not on a resize handle
    if (hit.region === 'column-header' && hit.column >= 0 && onLabel) {
      this._view.sortBy(this._view.columns[hit.column]);
      return;
    }
    if (hit.region === 'corner-header' && onLabel) {
      this._view.sortByName();
      return;
    }
    const modified = event.ctrlKey || event.metaKey || event.shiftKey;
    if ((hit.region === 'body' || hit.region === 'row-header') && hit.row >= 0) {
      if (this._view.isGroupRow(hit.row)) {
        this._view.toggleGroup(hit.row);
        return;
      }
      if (hit.region === 'row-header') {
        // A click on the frozen name selects the row like a click on its cells.
        grid.selectionModel?.select({
          r1: hit.row,
          c1: 0,
          r2: hit.row,
          c2: 0,
          cursorRow: hit.row,
          cursorColumn: 0,
          clear: modified ? 'none' : 'all'
        });
      } else {
        super.onMouseDown(grid, event);
      }
      this._view.noteUserSelection();
      if (!modified) {
        this._view.openRow(hit.row);
      }
      return;
    }
    super.onMouseDown(grid, event);
  }
}

class WorkspaceKeyHandler extends BasicKeyHandler {
  constructor(private _view: RunsWorkspace) {
    super();
  }

  onKeyDown(grid: DataGrid, event: KeyboardEvent): void {
    const row = grid.selectionModel?.cursorRow ?? -1;
    if (event.key === 'Enter' && row >= 0) {
      event.preventDefault();
      if (this._view.isGroupRow(row)) {
        this._view.toggleGroup(row);
      } else {
        this._view.openRow(row);
      }
      return;
    }
    super.onKeyDown(grid, event);
    this._view.noteUserSelection();
  }
}

/** The runs view with its toolbar. */
export class RunsWorkspace extends Panel {
  readonly runs: RunsModel;
  readonly grouped = new GroupedRunsModel();
  /** Emitted when the shown experiment changes (the layout restorer saves it). */
  readonly experimentChanged = new Signal<this, string>(this);
  readonly grid: PaintGrid;
  readonly charts: MetricChartsView;
  readonly models: ModelsView;
  /** selection bar: archive with undo, restore, delete, inline tags and note */
  readonly edits: RunEditBar;
  private _c: IRunListControls;
  private _group: HTMLSelectElement;
  private _picker: HTMLDivElement;
  private _stopPolling: () => void = () => undefined;
  private _selectionMark = 0;
  private _userSelection: string[] = [];
  private _tabs: TabPanel;

  constructor(
    private _app: INbtrackApp,
    options: IWorkspaceOptions = {}
  ) {
    super();
    this.addClass('nbtrack-workspace');
    this.runs = new RunsModel({
      frozenName: true,
      pick: (all, defaults) => this._pick(all, defaults)
    });
    this.runs.query.experiment = options.experiment ?? '';
    this.runs.query.where = options.where ?? '';

    this._c = runListControls({
      experiment: name => void this.setExperiment(name),
      filter: () => void this.applyFilter(),
      compare: () => this.compareSelected(),
      reload: () => void this.reload()
    });
    this._c.filter.value = this.runs.query.where;
    this._group = h(
      'select',
      {
        class: 'nbtrack-groupby',
        title: 'Group runs',
        attrs: { 'aria-label': 'Group by' },
        on: { change: () => void this.reload() }
      },
      ...[
        ['', 'No grouping'],
        ['experiment', 'Group by experiment'],
        ['sweep', 'Group by sweep'],
        ['parent', 'Group by notebook run']
      ].map(([value, label]) => {
        const o = h('option', {}, label);
        o.value = value;
        return o;
      })
    );
    this._picker = h('div', { class: 'nbtrack-picker', attrs: { role: 'dialog' } });
    this._picker.hidden = true;
    const columnsButton = h(
      'button',
      {
        class: 'jp-mod-styled nbtrack-button nbtrack-columns-button',
        title: 'Choose the columns (saved for this experiment)',
        on: { click: () => this._togglePicker() }
      },
      'Columns…'
    );
    this.edits = new RunEditBar({
      selectedRows: () => selectedRows(this.grid, row => this.rowAt(row)),
      selectAll: () => this.selectAll(),
      reload: keep => this._loadRuns(keep),
      setShowArchived: show => {
        this.runs.query.archived = show;
        return this._loadRuns();
      }
    });
    const head = new Widget({
      node: h(
        'div',
        { class: 'nbtrack-runs-head nbtrack-workspace-head' },
        h(
          'div',
          { class: 'nbtrack-row' },
          this._c.select,
          this._group,
          columnsButton,
          this._c.refresh,
          this._c.count,
          this._c.compare
        ),
        this._c.filter,
        this._c.error,
        this.edits.node,
        this._picker
      )
    });

    this.grid = new PaintGrid({
      style: gridStyle(),
      defaultSizes: {
        rowHeight: ROW_HEIGHT,
        columnWidth: 120,
        rowHeaderWidth: NAME_WIDTH,
        columnHeaderHeight: 26
      },
      headerVisibility: 'all',
      minimumSizes: { rowHeight: 20, columnWidth: 40, rowHeaderWidth: 80, columnHeaderHeight: 20 }
    });
    this.grid.addClass('nbtrack-grid');
    this.grid.addClass('nbtrack-workspace-grid');
    this.grid.keyHandler = new WorkspaceKeyHandler(this);
    this.grid.mouseHandler = new WorkspaceMouseHandler(this);
    this._setModel(this.runs);
    this._applyRenderers();

    const runsTab = new Panel();
    runsTab.title.label = 'Runs';
    runsTab.addClass('nbtrack-runs');
    runsTab.addWidget(head);
    runsTab.addWidget(this.grid);
    runsTab.addWidget(new Widget({ node: this.edits.overlay }));
    followSize(this.grid);

    this.charts = new MetricChartsView(this._app, () => this.runs);
    this.charts.title.label = 'Charts';

    this._tabs = new TabPanel();
    this._tabs.addClass('nbtrack-tabs');
    this._tabs.addWidget(runsTab);
    this._tabs.addWidget(this.charts);
    this.models = new ModelsView(this._app);
    this.models.title.label = 'Models';
    this._tabs.addWidget(this.models);
    this._tabs.currentChanged.connect(() => {
      if (this._tabs.currentWidget === this.charts) {
        void this.charts.refresh();
      } else if (this._tabs.currentWidget === this.models) {
        void this.models.refresh();
      }
    });
    this.addWidget(this._tabs);
    followSize(this._tabs);

    this.runs.error.connect((_m, err) => this._showError(err));
    this.grouped.error.connect((_m, err) => this._showError(err));
    this.runs.loaded.connect(() => this._onLoaded());
    this.grouped.loaded.connect(() => this._onLoaded());
    themeChanged.connect(this._onTheme);
    void this.start();
  }

  get columns(): IColumn[] {
    return this.runs.columns;
  }

  get groupBy(): GroupBy | '' {
    return this._group.value as GroupBy | '';
  }

  async start(): Promise<void> {
    await this.reload();
    this._stopPolling = pollChanges(
      () => this.isVisible,
      // the rows just read carry the store's token: the first poll need not read them again
      token => (token === this.runs.token ? Promise.resolve() : this.reload())
    );
  }

  /** Show the Models tab (on one model when given). */
  async showModels(name?: string): Promise<void> {
    this._tabs.currentWidget = this.models; // refreshes the list
    if (name) {
      await this.models.showModel(name);
    }
  }

  async reload(): Promise<void> {
    // The rows' request first: the server reads the store one request at a time, and the rows are
    // what the user waits for (the experiment list, asked for second, fills the menu just after).
    const runs = this._loadRuns();
    await Promise.all([runs, loadExperimentOptions(this._c.select, this.runs.query.experiment)]);
  }

  async setExperiment(name: string): Promise<void> {
    this.runs.query.experiment = name;
    this._c.select.value = name;
    this.experimentChanged.emit(name);
    await this._loadRuns();
  }

  async applyFilter(): Promise<void> {
    this.runs.query.where = this._c.filter.value.trim();
    await this._loadRuns();
  }

  sortBy(column: IColumn | undefined): void {
    if (!column) {
      return;
    }
    const cur = this.runs.query.orderBy;
    this.runs.query.orderBy = cur === '-' + column.sortKey ? column.sortKey : '-' + column.sortKey;
    void this._loadRuns();
  }

  sortByName(): void {
    const cur = this.runs.query.orderBy;
    this.runs.query.orderBy = cur === 'name' ? '-name' : 'name';
    void this._loadRuns();
  }

  isGroupRow(row: number): boolean {
    return this.grid.dataModel === this.grouped && this.grouped.isGroupRow(row);
  }

  toggleGroup(row: number): void {
    this.grouped.toggle(row);
    this._sizeColumns();
    this.grid.paintOnce();
  }

  rowAt(row: number): IRunRow | null {
    const model = this.grid.dataModel as AnyRunsModel;
    return model.rowAt(row) ?? null;
  }

  openRow(row: number): void {
    const r = this.rowAt(row);
    if (r) {
      this._app.openRun(r.run_id);
    }
  }

  selectedRunIds(): string[] {
    return selectedRunIds(this.grid, row => this.rowAt(row));
  }

  /** Select every row of the table (the edit bar's Select all). */
  selectAll(): void {
    const rows = this.grid.dataModel?.rowCount('body') ?? 0;
    if (rows > 0) {
      this.grid.selectionModel?.select({
        r1: 0,
        c1: 0,
        r2: rows - 1,
        c2: 0,
        cursorRow: 0,
        cursorColumn: 0,
        clear: 'all'
      });
    }
  }

  compareSelected(): void {
    const ids = this.selectedRunIds();
    if (ids.length >= 2) {
      this._app.openCompare(ids);
    }
  }

  dispose(): void {
    this._stopPolling();
    themeChanged.disconnect(this._onTheme);
    super.dispose();
  }

  /**
   * The user changed the selection (a click or a key on the grid): remember which runs, so that a reload
   * already under way keeps them rather than the selection it started with.
   */
  noteUserSelection(): void {
    this._userSelection = this.selectedRunIds();
    this._selectionMark++;
  }

  /** Reload the rows; the selected runs (or `keep`) stay selected where they are still listed. */
  private async _loadRuns(keep?: string[]): Promise<void> {
    const mark = this._selectionMark;
    const before = keep ?? this.selectedRunIds();
    await this.runs.refresh(this.grid.dataModel === this.runs ? this._visibleRows() : []);
    // a selection the user made while the rows were loading is newer than the one the reload started with
    const selected = this._selectionMark !== mark ? this._userSelection : before;
    const by = this.groupBy;
    if (by) {
      this.grouped.columns = this.runs.columns;
      await this.grouped.load(this.runs.query, by);
      this._setModel(this.grouped);
    } else {
      this._setModel(this.runs);
    }
    this._onLoaded();
    this._reselect(selected);
    // The new rows, the columns' widths and the selection: one repaint, not one per change.
    this.grid.paintOnce();
  }

  /**
   * Select the loaded rows of these runs, and only those: the grid's selection holds row numbers,
   * which point at other runs once a reload changed the rows.
   */
  private _reselect(ids: string[]): void {
    const wanted = new Set(ids);
    const model = this.grid.dataModel;
    const selection = this.grid.selectionModel;
    if (!model || !selection) {
      return;
    }
    selection.clear();
    let first = true;
    const rows = Math.min(model.rowCount('body'), 5000);
    for (let r = 0; r < rows && wanted.size; r++) {
      const row = this.rowAt(r);
      if (row && wanted.delete(row.run_id)) {
        selection.select({
          r1: r,
          c1: 0,
          r2: r,
          c2: 0,
          cursorRow: r,
          cursorColumn: 0,
          clear: first ? 'all' : 'none'
        });
        first = false;
      }
    }
  }

  private _setModel(model: AnyRunsModel): void {
    if (this.grid.dataModel === model) {
      return;
    }
    this.grid.dataModel = model;
    this.grid.selectionModel = new BasicSelectionModel({ dataModel: model, selectionMode: 'row' });
    this.grid.selectionModel.changed.connect(this._onSelection);
  }

  /** The shown columns: the experiment's saved choice, else the defaults for its runs. */
  private _pick(all: IColumn[], defaults: string[]): IColumn[] {
    const experiment = this.runs.query.experiment;
    const keys = savedColumns(experiment) ?? defaultColumns(defaults);
    return pickColumns(offeredColumns(all), keys);
  }

  private _togglePicker(): void {
    if (!this._picker.hidden) {
      this._picker.hidden = true;
      return;
    }
    this._renderPicker();
    this._picker.hidden = false;
    this._picker.querySelector('input')?.focus();
  }

  private _renderPicker(): void {
    const offered = offeredColumns(this.runs.available);
    const shown = new Set(this.runs.columns.map(columnKey));
    const search = h('input', {
      class: 'jp-mod-styled nbtrack-picker-search',
      attrs: { type: 'search', placeholder: 'find a column', 'aria-label': 'Find a column' }
    });
    const list = h('div', { class: 'nbtrack-picker-list' });
    const boxes: Array<[string, HTMLInputElement, HTMLElement]> = [];
    for (const c of offered) {
      const key = columnKey(c);
      const box = h('input', { attrs: { type: 'checkbox', 'data-column': key } });
      box.checked = shown.has(key);
      box.addEventListener('change', () => this._saveChoice(boxes));
      const label = h('label', { class: 'nbtrack-picker-item' }, box, ' ', c.header);
      boxes.push([key, box, label]);
      list.append(label);
    }
    search.addEventListener('input', () => {
      const q = search.value.trim().toLowerCase();
      for (const [key, , label] of boxes) {
        label.hidden = !!q && !key.toLowerCase().includes(q);
      }
    });
    const experiment = this.runs.query.experiment;
    this._picker.replaceChildren(
      h(
        'div',
        { class: 'nbtrack-row' },
        search,
        h(
          'button',
          {
            class: 'jp-mod-styled nbtrack-button',
            title: 'Forget this experiment’s choice and show the default columns',
            on: {
              click: () => {
                saveColumns(experiment, null);
                this._repick();
                this._renderPicker();
              }
            }
          },
          'Defaults'
        ),
        h(
          'button',
          {
            class: 'jp-mod-styled nbtrack-button',
            on: { click: () => (this._picker.hidden = true) }
          },
          'Close'
        )
      ),
      h(
        'div',
        { class: 'nbtrack-muted' },
        `Saved for ${experiment ? `experiment ${experiment}` : 'all experiments'} in this browser.`
      ),
      list
    );
  }

  private _saveChoice(boxes: Array<[string, HTMLInputElement, HTMLElement]>): void {
    const current = this.runs.columns.map(columnKey);
    const checked = new Set(boxes.filter(([, b]) => b.checked).map(([k]) => k));
    // Keep the current order; newly checked columns go at the end.
    const keys = [
      ...current.filter(k => checked.has(k)),
      ...boxes.map(([k]) => k).filter(k => checked.has(k) && !current.includes(k))
    ];
    saveColumns(this.runs.query.experiment, keys);
    this._repick();
  }

  private _repick(): void {
    this.runs.repick();
    this.grouped.setColumns(this.runs.columns);
    this._sizeColumns();
    this.grid.paintOnce();
  }

  private _applyRenderers(): void {
    const r = renderers();
    const font = `12px ${cssVar('--jp-ui-font-family', 'sans-serif')}`;
    const group = new TextRenderer({
      font: `bold ${font}`,
      textColor: cssVar('--jp-ui-font-color0', '#000')
    });
    const isGroup = (cfg: { metadata: DataModel.Metadata }): boolean => !!cfg.metadata.group;
    const archived = new TextRenderer({
      font: `italic ${font}`,
      textColor: cssVar('--jp-ui-font-color2', '#777')
    });
    this.grid.cellRenderers.update({
      body: cfg => (isGroup(cfg) ? group : cfg.column === 0 ? r.status : r.body),
      'row-header': cfg => (isGroup(cfg) ? group : cfg.metadata.archived ? archived : r.body),
      'column-header': r.header,
      'corner-header': r.header
    });
  }

  private readonly _onTheme = (): void => {
    this.grid.style = gridStyle();
    this._applyRenderers();
  };

  private readonly _onSelection = (): void => {
    updateCompareButton(this._c.compare, this.selectedRunIds().length);
    this.edits.update();
  };

  private _onLoaded(): void {
    const q = this.runs.query;
    const total = this.runs.total;
    let text = countText(total, !!q.where);
    if (this.grid.dataModel === this.grouped) {
      const g = this.grouped;
      text += ` in ${g.groups.length} group${g.groups.length === 1 ? '' : 's'}`;
      if (g.read < g.total) {
        text += ` (grouping the first ${GROUP_LIMIT.toLocaleString()}: filter to group the rest)`;
      }
    }
    this._c.count.textContent = text;
    this._sizeColumns();
    this._onSelection();
  }

  private _sizeColumns(): void {
    this.runs.columns.forEach((c, i) => {
      const width = Math.max(c.width, Math.min(240, 16 + 7 * this.runs.headerText(c).length));
      this.grid.resizeColumn('body', i, width);
    });
  }

  private _showError(err: NbtrackAPIError | null): void {
    showQueryError(this._c, err);
  }

  private _visibleRows(): number[] {
    const first = Math.floor(this.grid.scrollY / ROW_HEIGHT);
    return [first, first + Math.ceil(this.grid.viewportHeight / ROW_HEIGHT)];
  }
}

/** The workspace tab (a MainAreaWidget, so it has the standard toolbar and can be restored). */
export function createWorkspace(
  app: INbtrackApp,
  options: IWorkspaceOptions = {}
): MainAreaWidget<RunsWorkspace> {
  const content = new RunsWorkspace(app, options);
  const widget = new MainAreaWidget({ content });
  widget.id = 'nbtrack-workspace';
  widget.title.label = 'nbtrack runs';
  widget.title.caption = 'nbtrack experiments workspace';
  widget.title.closable = true;
  widget.addClass('nbtrack-workspace-tab');
  return widget;
}
