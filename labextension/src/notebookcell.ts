/**
 * Open a notebook at a run's cell (the nbformat cell id `%%track` records), in JupyterLab and in
 * Notebook 7. JupyterLab opens the notebook as a tab of the same page, where the cell is selected at
 * once. Notebook 7 shows one document per browser tab: a notebook already shown on this page has its
 * cell selected in place; any other opens in a new tab whose URL carries the cell id
 * (`notebooks/<path>?nbtrack-cell=<id>`), and nbtrack's extension in that page selects it.
 */
import { Notification } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Contents } from '@jupyterlab/services';

/** The URL parameter of a Notebook 7 notebook page that names the cell to select. */
export const CELL_PARAM = 'nbtrack-cell';

/** Select the cell with this id and scroll it to the middle; false when the notebook has none. */
export async function selectCell(panel: NotebookPanel, cellId: string): Promise<boolean> {
  await panel.context.ready;
  const index = panel.content.widgets.findIndex(c => c.model.id === cellId);
  if (index < 0) {
    return false;
  }
  panel.content.activeCellIndex = index;
  panel.content.deselectAll();
  await panel.content.scrollToItem(index, 'center');
  void keepInView(panel, index);
  return true;
}

function inView(panel: NotebookPanel, index: number): boolean {
  const node = panel.content.widgets[index]?.node;
  const box = node?.getBoundingClientRect();
  const view = panel.content.node.getBoundingClientRect();
  return !!box && box.height > 0 && box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
}

/**
 * A notebook that is still drawing its cells (a page just opened: cells above grow from their estimated
 * heights as they render) moves the selected cell out of view again: scroll back until it stays in view
 * (three checks in a row, at most 3 s), and stop as soon as another cell is selected.
 */
async function keepInView(panel: NotebookPanel, index: number): Promise<void> {
  let steady = 0;
  for (let i = 0; i < 20 && steady < 3; i++) {
    await new Promise(resolve => setTimeout(resolve, 150));
    if (panel.isDisposed || panel.content.activeCellIndex !== index) {
      return;
    }
    if (inView(panel, index)) {
      steady++;
    } else {
      steady = 0;
      await panel.content.scrollToItem(index, 'center');
    }
  }
}

/**
 * A recorded notebook path as a path of the server's contents API: relative to the server's root
 * (JupyterLab's page config says it; Notebook 7's does not, so the longest tail of the path that the
 * contents API has is taken: `/home/u/proj/a.ipynb` under root `/home/u` is `proj/a.ipynb`).
 */
export async function serverPath(contents: Contents.IManager, path: string): Promise<string> {
  const root = PageConfig.getOption('serverRoot').replace(/[/\\]+$/, '');
  if (root && path.startsWith(root + '/')) {
    return path.slice(root.length + 1);
  }
  if (!/^([/\\]|[A-Za-z]:)/.test(path)) {
    return path; // already relative
  }
  const parts = path.split(/[/\\]+/).filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const candidate = parts.slice(i).join('/');
    try {
      await contents.get(candidate, { content: false });
      return candidate;
    } catch {
      // not under the root at this depth: try a shorter tail
    }
  }
  throw new Error(`${path} is not under the Jupyter server's root folder`);
}

/** The Notebook 7 page of a notebook (path relative to the root) that selects ``cellId`` when loaded. */
export function notebookCellURL(path: string, cellId: string): string {
  const url = URLExt.join(PageConfig.getBaseUrl(), 'notebooks', URLExt.encodeParts(path));
  return `${url}?${CELL_PARAM}=${encodeURIComponent(cellId)}`;
}

/**
 * On a Notebook 7 notebook page opened by notebookCellURL: select the cell once the notebook is
 * shown, or say that the notebook has no such cell any more.
 */
export function selectCellFromURL(notebooks: INotebookTracker): void {
  const cellId = new URLSearchParams(window.location.search).get(CELL_PARAM);
  if (!cellId) {
    return;
  }
  const run = async (panel: NotebookPanel): Promise<void> => {
    await panel.revealed;
    if (!(await selectCell(panel, cellId))) {
      Notification.error(
        `${panel.context.path} has no cell with id ${cellId} any more (edited or re-created since the run).`,
        { autoClose: false }
      );
    }
  };
  const panel = notebooks.currentWidget;
  if (panel) {
    void run(panel);
    return;
  }
  const added = (_t: INotebookTracker, nb: NotebookPanel): void => {
    notebooks.widgetAdded.disconnect(added);
    void run(nb);
  };
  notebooks.widgetAdded.connect(added);
}
