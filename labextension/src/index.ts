/**
 * nbtrack JupyterLab extension: the left "nbtrack" panel plus main-area views
 * for a run, a comparison and a dataset diff.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  InputDialog,
  IThemeManager,
  MainAreaWidget,
  Notification,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { PageConfig } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { LabIcon } from '@jupyterlab/ui-components';
import { SplitPanel, TabPanel, Widget } from '@lumino/widgets';

import { themeChanged } from './charts';
import { CompareWidget } from './compare';
import { INbtrackApp } from './context';
import { DiffWidget } from './datasets';
import { RunDetailWidget } from './detail';
import { ILineageSubject, LineageWidget, parseSubject } from './lineage';
import { notebookCellURL, selectCell, selectCellFromURL, serverPath } from './notebookcell';
import { OPEN_MIME, OpenRenderer } from './openmime';
import { SidebarPanel } from './panel';
import { createWorkspace, IWorkspaceOptions, RunsWorkspace } from './workspace';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161"><rect x="3" y="13" width="4" height="8" rx="1"/>' +
  '<rect x="10" y="8" width="4" height="13" rx="1"/><rect x="17" y="3" width="4" height="18" rx="1"/></g></svg>';

export const nbtrackIcon = new LabIcon({ name: 'nbtrack:icon', svgstr: ICON_SVG });

/**
 * Notebook 7 ('tree', 'notebooks', 'edit', ... in its page config; empty in JupyterLab). Its shell's
 * main area holds one document and ignores any other widget added there, so the views go to its
 * 'down' area (a tab panel under the document) instead; see docs/workspace.md#notebook-7.
 */
const NOTEBOOK7_PAGE = PageConfig.getOption('notebookPage');

/**
 * Show a view in Notebook 7's down area: its shell's activateById() neither selects the view's tab
 * nor opens the area, a TabPanel that is the second child of a vertical SplitPanel and starts at
 * height 0. Select the tab and, when the area is (nearly) closed, give it 60% of the height.
 */
function revealInDownArea(view: Widget): void {
  const tabs = view.parent?.parent;
  if (tabs instanceof TabPanel) {
    tabs.currentWidget = view;
  }
  const split = tabs?.parent;
  if (split instanceof SplitPanel && split.widgets.length === 2) {
    const sizes = split.relativeSizes();
    if ((sizes[1] ?? 0) < 0.2) {
      split.setRelativeSizes([0.4, 0.6]);
    }
  }
}

/** What nbtrack uses of Notebook 7's INotebookShell (not a dependency: duck-typed). */
interface INotebook7Shell {
  leftHandler?: { show?: () => void };
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbtrack:plugin',
  description: 'nbtrack sidebar: runs, run detail, compare, datasets.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    IEditorServices,
    INotebookTracker,
    IThemeManager,
    ICommandPalette,
    IRenderMimeRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    editors: IEditorServices | null,
    notebooks: INotebookTracker | null,
    themes: IThemeManager | null,
    palette: ICommandPalette | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    const viewArea = NOTEBOOK7_PAGE ? 'down' : 'main';
    const activateView = (widget: Widget): void => {
      app.shell.activateById(widget.id);
      if (NOTEBOOK7_PAGE) {
        revealInDownArea(widget);
      }
    };
    const addView = (widget: Widget): void => {
      app.shell.add(widget, viewArea);
      activateView(widget);
    };
    const workspaces = new WidgetTracker<MainAreaWidget<RunsWorkspace>>({
      namespace: 'nbtrack-workspace'
    });
    const openWorkspace = (options: IWorkspaceOptions = {}): void => {
      const existing = workspaces.find(w => !w.isDisposed);
      if (existing) {
        if (options.experiment !== undefined) {
          void existing.content.setExperiment(options.experiment);
        }
        activateView(existing);
        return;
      }
      const widget = createWorkspace(ctx, options);
      // The restorer saves the experiment shown; tell the tracker when it changes.
      widget.content.experimentChanged.connect(() => void workspaces.save(widget));
      void workspaces.add(widget);
      addView(widget);
    };

    const showMain = (widget: Widget): void => {
      const existing = [...app.shell.widgets(viewArea)].find(w => w.id === widget.id);
      if (existing) {
        widget.dispose();
        activateView(existing);
        return;
      }
      addView(widget);
    };

    const ctx: INbtrackApp = {
      openWorkspace,
      openNotebookCell: async (path, cellId) => {
        const rel = await serverPath(app.serviceManager.contents, path);
        const shown = notebooks?.currentWidget;
        if (NOTEBOOK7_PAGE && shown instanceof NotebookPanel && shown.context.path === rel) {
          return selectCell(shown, cellId); // the notebook this page shows
        }
        if (NOTEBOOK7_PAGE) {
          // Notebook 7 shows one document per browser tab: open the notebook's own page, which
          // selects the cell named in its URL (notebookcell.ts, selectCellFromURL).
          const tab = window.open(notebookCellURL(rel, cellId), '_blank');
          if (!tab) {
            throw new Error('the browser blocked the new tab: allow pop-ups for this page');
          }
          tab.opener = null;
          return true;
        }
        await ctx.openNotebook(rel);
        const panel = notebooks?.currentWidget;
        if (!(panel instanceof NotebookPanel) || !(await selectCell(panel, cellId))) {
          return false;
        }
        app.shell.activateById(panel.id);
        return true;
      },
      editorFactory: editors ? options => editors.factoryService.newInlineEditor(options) : null,
      openRun: id => showMain(new RunDetailWidget(ctx, id)),
      openCompare: ids => showMain(new CompareWidget(ctx, ids)),
      openDiff: (name, a, b) => showMain(new DiffWidget(name, a, b)),
      openLineage: subject => showMain(new LineageWidget(ctx, subject)),
      openDatasetVersion: (name, version) => {
        showPanel();
        void panel.showDataset(name, version);
      },
      openNotebook: async path => {
        const rel = await serverPath(app.serviceManager.contents, path);
        await app.commands.execute('docmanager:open', { path: rel });
      },
      openNotebookCopy: async (fileName, text) => {
        const contents = app.serviceManager.contents;
        const dir = 'nbtrack-outputs';
        try {
          await contents.get(dir, { content: false });
        } catch {
          await contents.save(dir, { type: 'directory' });
        }
        const path = `${dir}/${fileName}`;
        // A file, not a notebook: jupyter_server signs a notebook it saves when its cells say
        // "trusted", and a stored notebook is never trusted (see untrusted.ts).
        await contents.save(path, { type: 'file', format: 'text', content: text });
        await app.commands.execute('docmanager:open', { path });
        return path;
      },
      copySnippet: text => {
        Clipboard.copyToSystem(text);
        Notification.success(`Copied: ${text}`, { autoClose: 2000 });
      },
      insertSnippet: text => {
        const panel = notebooks?.currentWidget;
        if (!panel) {
          Notification.warning('Open a notebook first: the snippet goes below its active cell.', {
            autoClose: 4000
          });
          return false;
        }
        NotebookActions.insertBelow(panel.content);
        panel.content.activeCell?.model.sharedModel.setSource(text);
        app.shell.activateById(panel.id);
        return true;
      }
    };

    const panel = new SidebarPanel(ctx);
    panel.id = 'nbtrack-sidebar';
    panel.title.icon = nbtrackIcon;
    panel.title.caption = 'nbtrack';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'nbtrack-sidebar');
    const showPanel = (): void => {
      if (NOTEBOOK7_PAGE) {
        // Notebook 7's expandLeft() (behind activateById) only shows the panel widget; its side
        // panel handler keeps its "hidden by user" flag and hides the panel again when any left
        // widget is added or removed, so clear the flag through the handler's own show().
        (app.shell as INotebook7Shell).leftHandler?.show?.();
      }
      app.shell.activateById(panel.id);
    };
    if (NOTEBOOK7_PAGE === 'tree') {
      // Notebook 7 starts with its left area collapsed: on the file browser page show the runs.
      void app.restored.then(showPanel);
    }
    if (NOTEBOOK7_PAGE === 'notebooks' && notebooks) {
      // A notebook page opened at a run's cell (Open the notebook at this cell, from another page).
      selectCellFromURL(notebooks);
    }
    if (NOTEBOOK7_PAGE && notebooks) {
      // On a notebook page, a toolbar button opens the panel (the left area stays collapsed).
      notebooks.widgetAdded.connect((_, nb) => {
        const button = new ToolbarButton({
          icon: nbtrackIcon,
          label: 'nbtrack',
          tooltip: 'Show nbtrack runs',
          className: 'nbtrack-toolbar-open',
          onClick: showPanel
        });
        nb.toolbar.addItem('nbtrack', button);
      });
    }

    themes?.themeChanged.connect(() => {
      // Let the new theme's CSS variables apply before reading them.
      requestAnimationFrame(() => themeChanged.emit());
    });

    app.commands.addCommand('nbtrack:open-sidebar', {
      label: 'nbtrack: Show runs',
      execute: showPanel
    });
    app.commands.addCommand('nbtrack:open-workspace', {
      label: 'nbtrack: Open experiments workspace',
      caption: 'Runs table, charts and comparisons in a main-area tab',
      execute: args =>
        openWorkspace({
          experiment: typeof args.experiment === 'string' ? args.experiment : undefined,
          where: typeof args.where === 'string' ? args.where : undefined
        })
    });
    app.commands.addCommand('nbtrack:open-compare', {
      label: 'nbtrack: Compare runs',
      execute: args => {
        const ids: string[] = Array.isArray(args.runIds)
          ? args.runIds.filter((i): i is string => typeof i === 'string')
          : [];
        if (ids.length >= 2) {
          ctx.openCompare(ids);
        }
      }
    });
    void restorer?.restore(workspaces, {
      command: 'nbtrack:open-workspace',
      args: w => ({ experiment: w.content.runs.query.experiment }),
      name: () => 'workspace'
    });
    rendermime?.addFactory(
      { safe: true, mimeTypes: [OPEN_MIME], createRenderer: () => new OpenRenderer(app.commands) },
      0
    );
    app.commands.addCommand('nbtrack:open-run', {
      label: 'nbtrack: Open run',
      execute: args => {
        if (typeof args.runId === 'string') {
          ctx.openRun(args.runId);
        }
      }
    });
    app.commands.addCommand('nbtrack:open-lineage', {
      label: 'nbtrack: Open lineage graph…',
      caption: 'The graph of runs and dataset versions around a run or a dataset version',
      execute: async args => {
        let subject: ILineageSubject | null;
        if (typeof args.run === 'string') {
          subject = { run: args.run };
        } else if (typeof args.dataset === 'string') {
          const version = typeof args.version === 'number' ? args.version : undefined;
          subject = { dataset: args.dataset, version };
        } else {
          // The run or version shown in the main area's current (else only visible) tab, else ask.
          const shown = [...app.shell.widgets(viewArea)].filter(
            w => w.isVisible && (w instanceof RunDetailWidget || w instanceof DiffWidget)
          );
          const focused = app.shell.currentWidget;
          const current = shown.find(w => w === focused) ?? (shown.length === 1 ? shown[0] : null);
          if (current instanceof RunDetailWidget) {
            subject = { run: current.runId };
          } else if (current instanceof DiffWidget) {
            subject = { dataset: current.datasetName, version: current.b };
          } else {
            const answer = await InputDialog.getText({
              title: 'Lineage of',
              label: 'A run (id, short id or name) or a dataset version (name@N)',
              placeholder: 'customers@2'
            });
            subject = answer.button.accept ? parseSubject(answer.value ?? '') : null;
          }
        }
        if (subject) {
          ctx.openLineage(subject);
        }
      }
    });
    palette?.addItem({ command: 'nbtrack:open-sidebar', category: 'nbtrack' });
    palette?.addItem({ command: 'nbtrack:open-lineage', category: 'nbtrack' });
    palette?.addItem({ command: 'nbtrack:open-workspace', category: 'nbtrack' });
  }
};

export default plugin;
