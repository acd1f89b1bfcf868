/**
 * nbtrack JupyterLab extension: the left "nbtrack" panel plus main-area views
 * for a run, a comparison and a dataset diff.
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  IThemeManager,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { PageConfig, PathExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { themeChanged } from './charts';
import { CompareWidget } from './compare';
import { INbtrackApp } from './context';
import { DiffWidget } from './datasets';
import { RunDetailWidget } from './detail';
import { OPEN_MIME, OpenRenderer } from './openmime';
import { SidebarPanel } from './panel';
import { createWorkspace, IWorkspaceOptions, RunsWorkspace } from './workspace';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">' +
  '<g class="jp-icon3" fill="#616161"><rect x="3" y="13" width="4" height="8" rx="1"/>' +
  '<rect x="10" y="8" width="4" height="13" rx="1"/><rect x="17" y="3" width="4" height="18" rx="1"/></g></svg>';

export const nbtrackIcon = new LabIcon({ name: 'nbtrack:icon', svgstr: ICON_SVG });

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
    const workspaces = new WidgetTracker<MainAreaWidget<RunsWorkspace>>({
      namespace: 'nbtrack-workspace'
    });
    const openWorkspace = (options: IWorkspaceOptions = {}): void => {
      const existing = workspaces.find(w => !w.isDisposed);
      if (existing) {
        if (options.experiment !== undefined) {
          void existing.content.setExperiment(options.experiment);
        }
        app.shell.activateById(existing.id);
        return;
      }
      const widget = createWorkspace(ctx, options);
      // The restorer saves the experiment shown; tell the tracker when it changes.
      widget.content.experimentChanged.connect(() => void workspaces.save(widget));
      void workspaces.add(widget);
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };

    const showMain = (widget: Widget): void => {
      const existing = [...app.shell.widgets('main')].find(w => w.id === widget.id);
      if (existing) {
        widget.dispose();
        app.shell.activateById(existing.id);
        return;
      }
      app.shell.add(widget, 'main');
      app.shell.activateById(widget.id);
    };

    const ctx: INbtrackApp = {
      openWorkspace,
      openNotebookCell: async (path, cellId) => {
        await ctx.openNotebook(path);
        const panel = notebooks?.currentWidget;
        if (!(panel instanceof NotebookPanel)) {
          return false;
        }
        await panel.context.ready;
        const index = panel.content.widgets.findIndex(c => c.model.id === cellId);
        if (index < 0) {
          return false;
        }
        panel.content.activeCellIndex = index;
        await panel.content.scrollToItem(index, 'center');
        app.shell.activateById(panel.id);
        return true;
      },
      editorFactory: editors ? options => editors.factoryService.newInlineEditor(options) : null,
      openRun: id => showMain(new RunDetailWidget(ctx, id)),
      openCompare: ids => showMain(new CompareWidget(ctx, ids)),
      openDiff: (name, a, b) => showMain(new DiffWidget(name, a, b)),
      openNotebook: async path => {
        const root = PageConfig.getOption('serverRoot');
        let rel = path;
        if (root && path.startsWith(root)) {
          rel = PathExt.relative(root, path);
        }
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

    themes?.themeChanged.connect(() => {
      // Let the new theme's CSS variables apply before reading them.
      requestAnimationFrame(() => themeChanged.emit());
    });

    app.commands.addCommand('nbtrack:open-sidebar', {
      label: 'nbtrack: Show runs',
      execute: () => app.shell.activateById(panel.id)
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
    palette?.addItem({ command: 'nbtrack:open-sidebar', category: 'nbtrack' });
    palette?.addItem({ command: 'nbtrack:open-workspace', category: 'nbtrack' });
  }
};

export default plugin;
