/**
 * The left sidebar: version handshake, experiment selector, filter box,
 * the virtualized runs grid and the datasets tab. Polls GET /changes every 2 s.
 */
import {
  BasicKeyHandler,
  BasicMouseHandler,
  BasicSelectionModel,
  DataGrid,
  TextRenderer
} from '@lumino/datagrid';
import { MessageLoop } from '@lumino/messaging';
import { Panel, TabPanel, Widget } from '@lumino/widgets';

import { themeChanged } from './charts';
import { INbtrackApp } from './context';
import { DatasetsView } from './datasets';
import { cssVar, h } from './dom';
import { NbtrackAPIError, requestAPI } from './handler';
import { PaintGrid } from './paintgrid';
import {
  countText,
  IRunListControls,
  loadExperimentOptions,
  pollChanges,
  runListControls,
  selectedRunIds,
  showQueryError,
  updateCompareButton
} from './runlist';
import { RunsModel } from './runsmodel';
import { API_VERSION, IVersion, SERVER_EXTENSION_HELP } from './tokens';

export function gridStyle(): DataGrid.Style {
  const bg = cssVar('--jp-layout-color0', '#fff');
  const alt = cssVar('--jp-layout-color1', '#f7f7f7');
  return {
    ...DataGrid.defaultStyle,
    voidColor: bg,
    backgroundColor: bg,
    rowBackgroundColor: i => (i % 2 === 0 ? bg : alt),
    gridLineColor: cssVar('--jp-border-color3', '#eee'),
    headerBackgroundColor: cssVar('--jp-layout-color2', '#eee'),
    headerGridLineColor: cssVar('--jp-border-color2', '#ccc'),
    selectionFillColor: 'rgba(33, 150, 243, 0.25)',
    selectionBorderColor: cssVar('--jp-brand-color1', '#1976d2'),
    cursorBorderColor: cssVar('--jp-brand-color1', '#1976d2'),
    headerSelectionFillColor: 'rgba(33, 150, 243, 0.15)'
  };
}

const STATUS_COLOR: Record<string, string> = {
  ok: '--jp-success-color1',
  failed: '--jp-error-color1',
  crashed: '--jp-error-color1',
  interrupted: '--jp-warn-color1',
  running: '--jp-brand-color1'
};

export function renderers(): { body: TextRenderer; status: TextRenderer; header: TextRenderer } {
  const fg = cssVar('--jp-ui-font-color1', '#222');
  const font = `12px ${cssVar('--jp-ui-font-family', 'sans-serif')}`;
  return {
    body: new TextRenderer({ textColor: fg, font }),
    header: new TextRenderer({ textColor: fg, font: `bold ${font}` }),
    status: new TextRenderer({
      font,
      textColor: cfg =>
        cssVar(STATUS_COLOR[String(cfg.metadata.status)] ?? '--jp-ui-font-color1', fg)
    })
  };
}

/** Click a header to sort, click a row to open it, ctrl/shift-click to select for compare. */
class RunsMouseHandler extends BasicMouseHandler {
  constructor(private _panel: SidebarPanel) {
    super();
  }

  onMouseDown(grid: DataGrid, event: MouseEvent): void {
    const hit = grid.hitTest(event.clientX, event.clientY);
    if (hit.region === 'column-header' && hit.column >= 0 && hit.x > 4 && hit.x < hit.width - 6) {
      this._panel.sortBy(hit.column);
      return;
    }
    super.onMouseDown(grid, event);
    if (
      hit.region === 'body' &&
      hit.row >= 0 &&
      !(event.ctrlKey || event.metaKey || event.shiftKey)
    ) {
      this._panel.openRow(hit.row);
    }
  }
}

/** Lumino layouts below a CSS flex box need telling when their box changes size. */
export function followSize(widget: Widget): void {
  const observer = new ResizeObserver(() => {
    if (widget.isAttached && widget.isVisible) {
      MessageLoop.sendMessage(widget, Widget.ResizeMessage.UnknownSize);
    }
  });
  observer.observe(widget.node);
  widget.disposed.connect(() => observer.disconnect());
}

/** Arrow keys move as usual; Enter opens the run under the cursor. */
class RunsKeyHandler extends BasicKeyHandler {
  constructor(private _panel: SidebarPanel) {
    super();
  }

  onKeyDown(grid: DataGrid, event: KeyboardEvent): void {
    const row = grid.selectionModel?.cursorRow ?? -1;
    if (event.key === 'Enter' && row >= 0) {
      event.preventDefault();
      this._panel.openRow(row);
      return;
    }
    super.onKeyDown(grid, event);
  }
}

export class SidebarPanel extends Panel {
  readonly model = new RunsModel();
  readonly grid: PaintGrid;
  private _header: Widget;
  private _c: IRunListControls;
  private _stopPolling: () => void = () => undefined;
  private _tabs: TabPanel;
  readonly datasets: DatasetsView;

  constructor(private _app: INbtrackApp) {
    super();
    this.addClass('nbtrack-sidebar');

    this._c = runListControls({
      experiment: name => void this.model.setQuery({ experiment: name }),
      filter: () => void this.applyFilter(),
      compare: () => this.compareSelected(),
      reload: () => void this.reload()
    });
    const workspace = h(
      'button',
      {
        class: 'jp-mod-styled nbtrack-button nbtrack-open-workspace',
        title: 'Open the experiments workspace (runs table, charts, compare) in a main-area tab',
        on: {
          click: () => this._app.openWorkspace({ experiment: this._c.select.value })
        }
      },
      'Workspace'
    );
    const runsHead = new Widget({
      node: h(
        'div',
        { class: 'nbtrack-runs-head' },
        h('div', { class: 'nbtrack-row' }, this._c.select, this._c.refresh),
        this._c.filter,
        this._c.error,
        h('div', { class: 'nbtrack-row' }, this._c.count, this._c.compare, workspace)
      )
    });

    this.grid = new PaintGrid({
      style: gridStyle(),
      defaultSizes: { rowHeight: 22, columnWidth: 110, rowHeaderWidth: 0, columnHeaderHeight: 24 },
      headerVisibility: 'column'
    });
    this.grid.addClass('nbtrack-grid');
    this.grid.dataModel = this.model;
    this.grid.keyHandler = new RunsKeyHandler(this);
    this.grid.mouseHandler = new RunsMouseHandler(this);
    this.grid.selectionModel = new BasicSelectionModel({
      dataModel: this.model,
      selectionMode: 'row'
    });
    this.grid.selectionModel.changed.connect(this._onSelection);
    this._applyRenderers();

    const runs = new Panel();
    runs.title.label = 'Runs';
    runs.addClass('nbtrack-runs');
    runs.addWidget(runsHead);
    runs.addWidget(this.grid);
    followSize(this.grid);

    const datasets = new DatasetsView(this._app);
    datasets.title.label = 'Datasets';
    this.datasets = datasets;

    this._tabs = new TabPanel();
    this._tabs.addClass('nbtrack-tabs');
    this._tabs.addWidget(runs);
    this._tabs.addWidget(datasets);

    this._header = new Widget({ node: h('div', { class: 'nbtrack-banner' }) });
    this._header.hide();
    this.addWidget(this._header);
    this.addWidget(this._tabs);
    followSize(this._tabs);

    this.model.error.connect((_m, err) => this._showError(err));
    this.model.loaded.connect(() => this._onLoaded());
    themeChanged.connect(() => {
      this.grid.style = gridStyle();
      this._applyRenderers();
    });
    void this.start();
  }

  /** Show the Datasets tab on a dataset's versions, ``version`` marked and scrolled to. */
  async showDataset(name: string, version: number): Promise<void> {
    this._tabs.currentWidget = this.datasets;
    await this.datasets.showVersions(name, version);
  }

  /** Version handshake, then load and start polling. */
  async start(): Promise<void> {
    try {
      const v = await requestAPI<IVersion>('version');
      if (v.api !== API_VERSION) {
        this._banner(
          `This sidebar speaks nbtrack REST API ${API_VERSION} but the server speaks ${v.api} (nbtrack ${v.version}). Reinstall one nbtrack version (\`pip install .\` in the nbtrack checkout) and restart JupyterLab.`
        );
        return;
      }
    } catch (e) {
      const err = e as NbtrackAPIError;
      this._banner(
        err.status === 404 ? SERVER_EXTENSION_HELP : `${SERVER_EXTENSION_HELP} (${err.message})`
      );
      return;
    }
    await this.reload();
    this._stopPolling = pollChanges(
      () => this.isAttached,
      () => this.reload()
    );
  }

  async reload(): Promise<void> {
    await Promise.all([
      loadExperimentOptions(this._c.select, this._c.select.value),
      this.model.refresh(this._visibleRows())
    ]);
  }

  async applyFilter(): Promise<void> {
    await this.model.setQuery({ where: this._c.filter.value.trim() });
  }

  sortBy(column: number): void {
    const key = this.model.columns[column]?.sortKey;
    if (!key) {
      return;
    }
    const cur = this.model.query.orderBy;
    const next = cur === '-' + key ? key : '-' + key;
    void this.model.setQuery({ orderBy: next });
  }

  openRow(row: number): void {
    const r = this.model.rowAt(row);
    if (r) {
      this._app.openRun(r.run_id);
    }
  }

  selectedRunIds(): string[] {
    return selectedRunIds(this.grid, row => this.model.rowAt(row));
  }

  compareSelected(): void {
    const ids = this.selectedRunIds();
    if (ids.length >= 2) {
      this._app.openCompare(ids);
    }
  }

  dispose(): void {
    this._stopPolling();
    super.dispose();
  }

  private _applyRenderers(): void {
    const r = renderers();
    this.grid.cellRenderers.update({
      body: cfg => (cfg.column === 0 ? r.status : r.body),
      'column-header': r.header
    });
  }

  /** An arrow function: connected to the selection model's signal as it is. */
  private readonly _onSelection = (): void => {
    updateCompareButton(this._c.compare, this.selectedRunIds().length);
  };

  private _onLoaded(): void {
    const q = this.model.query;
    this._c.count.textContent = countText(this.model.total, !!q.where);
    this.model.columns.forEach((c, i) => this.grid.resizeColumn('body', i, c.width));
    this._onSelection();
    // The new rows and the columns' widths: one repaint, not one per change (paintgrid.ts).
    this.grid.paintOnce();
  }

  private _showError(err: NbtrackAPIError | null): void {
    showQueryError(this._c, err);
  }

  private _banner(text: string): void {
    this._header.node.textContent = text;
    this._header.show();
    this._tabs.hide();
  }

  private _visibleRows(): number[] {
    const rh = this.grid.defaultSizes.rowHeight;
    const first = Math.floor(this.grid.scrollY / rh);
    return [first, first + Math.ceil(this.grid.viewportHeight / rh)];
  }
}
