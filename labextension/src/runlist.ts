/**
 * What the sidebar's runs list and the workspace's runs table share: the toolbar's controls, the
 * experiment list, the selected run ids of a grid, query errors and the GET /changes poll.
 */
import { DataGrid } from '@lumino/datagrid';

import { h } from './dom';
import { NbtrackAPIError, requestAPI } from './handler';
import { IChanges, IExperimentList, IRunRow } from './tokens';

const POLL_MS = 2000;

/** The toolbar controls of a runs list. */
export interface IRunListControls {
  select: HTMLSelectElement;
  filter: HTMLInputElement;
  error: HTMLDivElement;
  count: HTMLSpanElement;
  compare: HTMLButtonElement;
  refresh: HTMLButtonElement;
}

/** Build the controls; the callbacks are the list's actions. */
export function runListControls(actions: {
  experiment: (name: string) => void;
  filter: () => void;
  compare: () => void;
  reload: () => void;
}): IRunListControls {
  const select = h('select', {
    class: 'nbtrack-experiment',
    title: 'Experiment',
    on: { change: () => actions.experiment(select.value) }
  });
  const filter = h('input', {
    class: 'nbtrack-filter jp-mod-styled',
    attrs: {
      type: 'search',
      placeholder: "filter: metrics.acc > 0.9 and params.model = 'rf'",
      spellcheck: 'false',
      'aria-label': 'Filter runs'
    },
    title: "Query (Enter to apply). Example: metrics.acc > 0.9 and status = 'ok'",
    on: { keydown: e => e.key === 'Enter' && actions.filter() }
  });
  const compare = h(
    'button',
    {
      class: 'jp-mod-styled nbtrack-button nbtrack-compare-selected',
      title: 'Ctrl/Shift-click rows to select two or more',
      on: { click: actions.compare }
    },
    'Compare'
  );
  compare.disabled = true;
  const refresh = h(
    'button',
    { class: 'jp-mod-styled nbtrack-button', title: 'Reload', on: { click: actions.reload } },
    '⟳'
  );
  return {
    select,
    filter,
    error: h('div', { class: 'nbtrack-error', attrs: { role: 'alert' } }),
    count: h('span', { class: 'nbtrack-count' }),
    compare,
    refresh
  };
}

/** "Compare N" once two or more runs are selected. */
export function updateCompareButton(button: HTMLButtonElement, selected: number): void {
  button.disabled = selected < 2;
  button.textContent = selected >= 2 ? `Compare ${selected}` : 'Compare';
}

/** "12 runs (filtered)". */
export function countText(total: number, filtered: boolean): string {
  return `${total.toLocaleString()} run${total === 1 ? '' : 's'}${filtered ? ' (filtered)' : ''}`;
}

/** Show a failed fetch's message; a 400 (a query error, with its position) marks the filter box. */
export function showQueryError(c: IRunListControls, err: NbtrackAPIError | null): void {
  c.error.textContent = err ? err.message : '';
  c.filter.classList.toggle('nbtrack-invalid', !!err && err.status === 400);
}

/** Fill the experiment selector from GET /experiments, keeping `current` while it exists. */
export async function loadExperimentOptions(
  select: HTMLSelectElement,
  current: string
): Promise<void> {
  const { experiments } = await requestAPI<IExperimentList>('experiments');
  select.replaceChildren(
    h('option', { attrs: { value: '' } }, 'All experiments'),
    ...experiments.map(e => {
      const o = h('option', {}, `${e.name} (${e.runs})`);
      o.value = e.name;
      return o;
    })
  );
  select.value = experiments.some(e => e.name === current) ? current : '';
}

/** The run ids of the rows selected in a grid (a row whose page is not loaded is left out). */
export function selectedRunIds(
  grid: DataGrid,
  rowAt: (row: number) => IRunRow | null | undefined
): string[] {
  return selectedRows(grid, rowAt).map(r => r.run_id);
}

/** The runs of the rows selected in a grid, each once (rows whose page is not loaded are left out). */
export function selectedRows(
  grid: DataGrid,
  rowAt: (row: number) => IRunRow | null | undefined
): IRunRow[] {
  const rows = new Map<string, IRunRow>();
  for (const s of grid.selectionModel?.selections() ?? []) {
    for (let r = Math.min(s.r1, s.r2); r <= Math.max(s.r1, s.r2); r++) {
      const row = rowAt(r);
      if (row) {
        rows.set(row.run_id, row);
      }
    }
  }
  return [...rows.values()];
}

/**
 * Poll GET /changes every 2 s while `active()`; call `reload` with the new token when the store
 * changed (the first answer counts as a change: a list whose rows carry that token can skip it).
 * Returns the function that stops polling.
 */
export function pollChanges(
  active: () => boolean,
  reload: (token: string) => Promise<void>
): () => void {
  let token = '';
  const timer = window.setInterval(() => {
    if (document.hidden || !active()) {
      return;
    }
    requestAPI<IChanges>('changes')
      .then(async answer => {
        if (answer.token !== token) {
          token = answer.token;
          await reload(token);
        }
      })
      .catch(() => {
        // The server went away for a moment; the next poll tries again.
      });
  }, POLL_MS);
  return () => window.clearInterval(timer);
}
