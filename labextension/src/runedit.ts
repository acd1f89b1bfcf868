/**
 * Changing runs from the workspace (issue 16): the selection bar (select all, archive with an undo
 * toast, show archived runs, restore, delete permanently after a confirmation) and the inline editor of
 * the selected runs' tags and the selected run's note. Every text from the store is set as textContent.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';

import { h } from './dom';
import { NbtrackAPIError, requestAPI } from './handler';
import { IRunArchived, IRunDeleted, IRunEdited, IRunRestored, IRunRow } from './tokens';

/** The reserved tag holding a run's note (nbtrack.editing.NOTE_TAG). */
export const NOTE_TAG = 'nbtrack.note';
const TOAST_MS = 10000;

/** The server takes at most this many run ids a call (MAX_RUN_IDS of the REST API). */
const IDS_PER_CALL = 1000;

/** POST `ids` to an action route, 1,000 at a time; the ids each answer lists under `key`, joined. */
async function post<T>(endPoint: string, ids: string[], key: keyof T): Promise<string[]> {
  const done: string[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_CALL) {
    const body = JSON.stringify({ ids: ids.slice(i, i + IDS_PER_CALL) });
    const answer = await requestAPI<T>(endPoint, {}, { method: 'POST', body });
    done.push(...(answer[key] as string[]));
  }
  return done;
}

/** POST /runs/archive: the ids archived now (child runs included). */
export function archiveRuns(ids: string[]): Promise<string[]> {
  return post<IRunArchived>('runs/archive', ids, 'archived');
}

/** POST /runs/restore: the ids restored. */
export function restoreRuns(ids: string[]): Promise<string[]> {
  return post<IRunRestored>('runs/restore', ids, 'restored');
}

/** POST /runs/delete: archived runs deleted for good. */
export function deleteRuns(ids: string[]): Promise<string[]> {
  return post<IRunDeleted>('runs/delete', ids, 'deleted');
}

/** PATCH /runs/{id}: set/remove tags, set or clear (null) the note. */
export function editRun(
  runId: string,
  change: { tags?: Record<string, string>; remove?: string[]; note?: string | null }
): Promise<IRunEdited> {
  return requestAPI<IRunEdited>(
    `runs/${encodeURIComponent(runId)}`,
    {},
    { method: 'PATCH', body: JSON.stringify(change) }
  );
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** A toast at the bottom of the workspace: a message and at most one action (Undo). */
export class Toast {
  readonly node = h('div', { class: 'nbtrack-toast', attrs: { role: 'status' } });
  private _timer = 0;

  constructor() {
    this.node.hidden = true;
  }

  show(text: string, action?: { label: string; run: () => void }): void {
    window.clearTimeout(this._timer);
    const message = h('span', { class: 'nbtrack-toast-text' }, text);
    const parts: HTMLElement[] = [message];
    if (action) {
      parts.push(
        h('span', { class: 'nbtrack-muted' }, ' · '),
        h(
          'button',
          {
            class: 'nbtrack-toast-action',
            on: {
              click: () => {
                this.hide();
                action.run();
              }
            }
          },
          action.label
        )
      );
    }
    parts.push(
      h(
        'button',
        {
          class: 'nbtrack-toast-close',
          title: 'Dismiss',
          attrs: { 'aria-label': 'Dismiss' },
          on: { click: () => this.hide() }
        },
        '×'
      )
    );
    this.node.replaceChildren(...parts);
    this.node.hidden = false;
    this._timer = window.setTimeout(() => this.hide(), TOAST_MS);
  }

  hide(): void {
    window.clearTimeout(this._timer);
    this.node.hidden = true;
  }
}

/** What the edit bar needs from the runs table. */
export interface IRunEditHost {
  /** the selected runs whose rows are loaded */
  selectedRows(): IRunRow[];
  /** select every row the table holds */
  selectAll(): void;
  /** reload the table, keeping these runs selected where they are still listed */
  reload(keep: string[]): Promise<void>;
  /** list archived runs too */
  setShowArchived(show: boolean): Promise<void>;
}

/**
 * The selection bar under the workspace's toolbar: "N selected", Select all, Archive (undo toast),
 * Show archived, Restore, Delete permanently; and, floating over the bottom of the table (so the rows
 * never move under the pointer while a selection is made), the tags of the selection as chips (×
 * removes one from every selected run that has it), an input adding `key=value` to every selected run,
 * and the note of the one selected run.
 */
export class RunEditBar {
  /** the selection row (under the toolbar: its height never changes with the selection) */
  readonly node: HTMLDivElement;
  /** the tags and note editor and the toast, floating over the bottom of the table */
  readonly overlay: HTMLDivElement;
  readonly toast = new Toast();
  private _count = h('span', { class: 'nbtrack-selection-count' });
  private _archive: HTMLButtonElement;
  private _restore: HTMLButtonElement;
  private _delete: HTMLButtonElement;
  private _showArchived: HTMLInputElement;
  private _chips = h('span', { class: 'nbtrack-chips' });
  private _tagInput: HTMLInputElement;
  private _note: HTMLTextAreaElement;
  private _saveNote: HTMLButtonElement;
  private _editor: HTMLDivElement;
  private _noteRow: HTMLDivElement;
  private _error = h('div', { class: 'nbtrack-error', attrs: { role: 'alert' } });
  private _noteRun = '';

  constructor(private _host: IRunEditHost) {
    const button = (cls: string, label: string, title: string, fn: () => void) =>
      h(
        'button',
        { class: `jp-mod-styled nbtrack-button ${cls}`, title, on: { click: fn } },
        label
      );
    this._archive = button(
      'nbtrack-archive',
      'Archive',
      'Hide the selected runs (and their child runs); Undo or Restore brings them back',
      () => void this.archive()
    );
    this._restore = button(
      'nbtrack-restore',
      'Restore',
      'Bring the selected archived runs back',
      () => void this.restore()
    );
    this._delete = button(
      'nbtrack-delete jp-mod-warn',
      'Delete permanently…',
      'Delete the selected archived runs and everything they recorded',
      () => void this.deleteForGood()
    );
    this._showArchived = h('input', {
      class: 'nbtrack-show-archived',
      attrs: { type: 'checkbox' },
      on: { change: () => void this._host.setShowArchived(this._showArchived.checked) }
    });
    this._tagInput = h('input', {
      class: 'jp-mod-styled nbtrack-tag-input',
      attrs: {
        type: 'text',
        placeholder: 'add tag: key=value (Enter)',
        'aria-label': 'Add a tag to the selected runs',
        spellcheck: 'false'
      },
      on: { keydown: e => e.key === 'Enter' && void this.addTag() }
    });
    this._note = h('textarea', {
      class: 'jp-mod-styled nbtrack-note-input',
      attrs: {
        rows: '2',
        placeholder: 'Note about this run (what was tried, what to remember)',
        'aria-label': 'Note of the selected run'
      },
      on: {
        keydown: e => {
          const k = e;
          if (k.key === 'Enter' && (k.ctrlKey || k.metaKey)) {
            k.preventDefault();
            void this.saveNote();
          }
        },
        input: () => (this._saveNote.disabled = false)
      }
    });
    this._saveNote = button(
      'nbtrack-save-note',
      'Save note',
      'Save the note (Ctrl+Enter)',
      () => void this.saveNote()
    );
    this._noteRow = h('div', { class: 'nbtrack-row nbtrack-note-row' }, this._note, this._saveNote);
    this._editor = h(
      'div',
      { class: 'nbtrack-run-editor' },
      h('div', { class: 'nbtrack-row' }, this._chips, this._tagInput),
      this._noteRow
    );
    this.node = h(
      'div',
      { class: 'nbtrack-edit-bar' },
      h(
        'div',
        { class: 'nbtrack-row' },
        button('nbtrack-select-all', 'Select all', 'Select every run loaded so far', () =>
          this._host.selectAll()
        ),
        this._count,
        this._archive,
        this._restore,
        this._delete,
        h(
          'label',
          { class: 'nbtrack-show-archived-label', title: 'List archived runs too (marked)' },
          this._showArchived,
          ' Show archived'
        )
      ),
      this._error
    );
    this.overlay = h('div', { class: 'nbtrack-edit-overlay' }, this._editor, this.toast.node);
    // Nothing selected yet (the table calls update() once it has rows and on every selection).
    this._archive.disabled = true;
    this._restore.hidden = this._delete.hidden = true;
    this._editor.hidden = true;
  }

  get showArchived(): boolean {
    return this._showArchived.checked;
  }

  /** Show the selection's state (call when the selection or the rows changed). */
  update(): void {
    const rows = this._host.selectedRows();
    const archived = rows.filter(r => r.archived);
    this._count.textContent = rows.length ? `${rows.length} selected` : '';
    this._archive.disabled = rows.length === archived.length;
    this._restore.hidden = this._delete.hidden = !this._showArchived.checked;
    this._restore.disabled = this._delete.disabled = archived.length === 0;
    this._editor.hidden = rows.length === 0;
    this._renderChips(rows);
    const one = rows.length === 1 ? rows[0] : null;
    this._noteRow.hidden = !one;
    if (one && (one.run_id !== this._noteRun || this._saveNote.disabled)) {
      this._note.value = one.tags[NOTE_TAG] ?? '';
      this._saveNote.disabled = true;
    }
    this._noteRun = one?.run_id ?? '';
    this._tagInput.placeholder =
      rows.length > 1 ? `add tag to ${rows.length} runs: key=value` : 'add tag: key=value (Enter)';
  }

  async archive(): Promise<void> {
    const ids = this._host
      .selectedRows()
      .filter(r => !r.archived)
      .map(r => r.run_id);
    if (!ids.length) {
      return;
    }
    await this._try(async () => {
      const archived = await archiveRuns(ids);
      await this._host.reload(this.showArchived ? archived : []);
      this.toast.show(`${plural(archived.length, 'run')} archived`, {
        label: 'Undo',
        run: () => void this._undo(archived)
      });
    });
  }

  async restore(): Promise<void> {
    const ids = this._archivedSelection();
    await this._try(async () => {
      const restored = await restoreRuns(ids);
      await this._host.reload(restored);
      this.toast.show(`${plural(restored.length, 'run')} restored`);
    });
  }

  async deleteForGood(): Promise<void> {
    const ids = this._archivedSelection();
    if (!ids.length) {
      return;
    }
    const result = await showDialog({
      title: `Delete ${plural(ids.length, 'archived run')} permanently?`,
      body:
        `${plural(ids.length, 'run')} and their child runs will be deleted with everything they ` +
        'recorded (params, metrics, artifacts). This cannot be undone; their files are freed by ' +
        '`nbtrack gc`.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
    });
    if (!result.button.accept) {
      return;
    }
    await this._try(async () => {
      const deleted = await deleteRuns(ids);
      await this._host.reload([]);
      this.toast.show(`${plural(deleted.length, 'run')} deleted permanently`);
    });
  }

  async addTag(): Promise<void> {
    const text = this._tagInput.value.trim();
    const eq = text.indexOf('=');
    if (eq <= 0) {
      this._error.textContent = 'Write the tag as key=value, e.g. stage=review.';
      return;
    }
    const tags = { [text.slice(0, eq).trim()]: text.slice(eq + 1).trim() };
    const rows = this._host.selectedRows();
    await this._try(async () => {
      for (const r of rows) {
        await editRun(r.run_id, { tags });
      }
      this._tagInput.value = '';
      await this._host.reload(rows.map(r => r.run_id));
    });
  }

  async removeTag(key: string): Promise<void> {
    const rows = this._host.selectedRows().filter(r => key in r.tags);
    await this._try(async () => {
      for (const r of rows) {
        await editRun(r.run_id, { remove: [key] });
      }
      await this._host.reload(this._host.selectedRows().map(r => r.run_id));
    });
  }

  async saveNote(): Promise<void> {
    const rows = this._host.selectedRows();
    if (rows.length !== 1) {
      return;
    }
    const text = this._note.value;
    await this._try(async () => {
      await editRun(rows[0].run_id, { note: text.trim() ? text : null });
      this._saveNote.disabled = true;
      await this._host.reload([rows[0].run_id]);
      this.toast.show(text.trim() ? 'Note saved' : 'Note removed');
    });
  }

  private _archivedSelection(): string[] {
    return this._host
      .selectedRows()
      .filter(r => r.archived)
      .map(r => r.run_id);
  }

  private async _undo(ids: string[]): Promise<void> {
    await this._try(async () => {
      const restored = await restoreRuns(ids);
      await this._host.reload(restored);
      this.toast.show(`${plural(restored.length, 'run')} restored`);
    });
  }

  private _renderChips(rows: IRunRow[]): void {
    const counts = new Map<string, number>();
    for (const r of rows) {
      for (const [k, v] of Object.entries(r.tags)) {
        if (k !== NOTE_TAG) {
          const label = rows.length === 1 ? `${k}=${v}` : k;
          counts.set(label, (counts.get(label) ?? 0) + 1);
        }
      }
    }
    this._chips.replaceChildren(
      ...[...counts].sort().map(([label, n]) => {
        const key = rows.length === 1 ? label.slice(0, label.indexOf('=')) : label;
        return h(
          'span',
          { class: 'nbtrack-chip', attrs: { 'data-tag': key } },
          rows.length > 1 && n < rows.length ? `${label} (${n})` : label,
          h(
            'button',
            {
              class: 'nbtrack-chip-remove',
              title: `Remove tag ${key}`,
              attrs: { 'aria-label': `Remove tag ${key}` },
              on: { click: () => void this.removeTag(key) }
            },
            '×'
          )
        );
      })
    );
  }

  private async _try(fn: () => Promise<void>): Promise<void> {
    this._error.textContent = '';
    try {
      await fn();
    } catch (e) {
      this._error.textContent = e instanceof NbtrackAPIError ? e.message : String(e);
    }
  }
}
