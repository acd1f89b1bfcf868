/**
 * Stored notebooks are never trusted.
 *
 * A notebook artifact can come from anywhere a store can: a merge, a sweep's worker, an import, a
 * pull from a team remote. If its cells say `"trusted": true` and it were saved through the contents
 * API as a notebook, jupyter_server would sign it and JupyterLab would run its javascript and HTML
 * outputs in the Lab origin, with the user's session. So the sidebar removes every trust flag and
 * saves the notebook as plain text (a `file`, which jupyter_server never signs); JupyterLab then
 * opens it as an untrusted notebook, as it opens any notebook it has not signed.
 */

type JSONObject = Record<string, unknown>;

function isObject(v: unknown): v is JSONObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Drop the trust flags a notebook or cell may carry in its metadata. */
function dropTrust(owner: JSONObject): void {
  const metadata = owner.metadata;
  if (isObject(metadata)) {
    delete metadata.trusted;
    delete metadata.signature; // nbformat 3 kept the signature in the notebook's metadata
  }
}

/** Where a saved copy came from; it also makes the text differ from any copy signed before. */
export interface INotebookSource {
  run_id: string;
  artifact: string;
}

/**
 * The text of a stored notebook with every `metadata.trusted` (notebook and cells, nbformat 3
 * worksheets included) and any stored signature removed, and `metadata.nbtrack.saved_copy` naming
 * its source.
 *
 * @throws Error when the value is not a notebook (no `cells` and no `worksheets` list)
 */
export function untrustedNotebookText(content: unknown, source: INotebookSource): string {
  if (!isObject(content)) {
    throw new Error('the artifact is not a notebook');
  }
  const cellLists: unknown[][] = [];
  if (Array.isArray(content.cells)) {
    cellLists.push(content.cells);
  }
  if (Array.isArray(content.worksheets)) {
    for (const sheet of content.worksheets) {
      if (isObject(sheet) && Array.isArray(sheet.cells)) {
        cellLists.push(sheet.cells);
      }
    }
  }
  if (!cellLists.length) {
    throw new Error('the artifact is not a notebook');
  }
  for (const cells of cellLists) {
    for (const cell of cells) {
      if (isObject(cell)) {
        dropTrust(cell);
      }
    }
  }
  dropTrust(content);
  const metadata: JSONObject = isObject(content.metadata) ? content.metadata : {};
  content.metadata = metadata;
  // Output notebooks already hold metadata.nbtrack (run id, store, parameters): add to it.
  const nbtrack: JSONObject = isObject(metadata.nbtrack) ? metadata.nbtrack : {};
  nbtrack.saved_copy = { run_id: source.run_id, artifact: source.artifact, trusted: false };
  metadata.nbtrack = nbtrack;
  return JSON.stringify(content, null, 1) + '\n';
}
