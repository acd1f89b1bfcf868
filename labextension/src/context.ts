/** What the views need from the application; implemented in index.ts. */
import { CodeEditor } from '@jupyterlab/codeeditor';

export interface INbtrackApp {
  /** Open (or show) the experiments workspace, on an experiment and filter when given. */
  openWorkspace(options?: { experiment?: string; where?: string }): void;
  openRun(runId: string): void;
  /**
   * Open a notebook and select the cell with this id (nbformat cell id, as %%track records it).
   * Resolves false when the notebook has no such cell.
   */
  openNotebookCell(path: string, cellId: string): Promise<boolean>;
  openCompare(runIds: string[]): void;
  openDiff(dataset: string, a: number, b: number): void;
  /** Open the lineage graph around a run (id, short id or name) or a dataset version. */
  openLineage(subject: { run?: string; dataset?: string; version?: number }): void;
  /** Show a dataset's versions in the sidebar's datasets view, this version marked. */
  openDatasetVersion(dataset: string, version: number): void;
  openNotebook(path: string): Promise<void>;
  /**
   * Save a stored notebook's text under nbtrack-outputs/ in the server's root, as a plain file
   * (never through the notebook save path, which signs trusted cells), and open it: untrusted.
   */
  openNotebookCopy(fileName: string, text: string): Promise<string>;
  copySnippet(text: string): void;
  insertSnippet(text: string): boolean;
  editorFactory: CodeEditor.Factory | null;
}

/** The snippet that loads a dataset version back into a notebook. */
export function loadSnippet(dataset: string, version: number): string {
  return `nbtrack.load(${JSON.stringify(dataset)}, version=${version})`;
}
