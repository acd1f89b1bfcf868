/**
 * Run detail (main area): params, metrics with step charts, figures, code
 * (read-only editor with syntax highlighting), environment, data, actions.
 */
import { CodeEditor, CodeEditorWrapper } from '@jupyterlab/codeeditor';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { INbtrackApp, loadSnippet } from './context';
import { actionLink, fmt, fmtDuration, fmtTime, h, kvTable, statusBadge } from './dom';
import { artifactURL, requestAPI } from './handler';
import { bestIndex, isAutologParam, lowerIsBetter, runColor } from './runlook';
import { StepChartGrid } from './smoothing';
import { commonMetric, sweepEffects } from './sweep';
import {
  IArtifact,
  IDataRef,
  IJob,
  IRerunAccepted,
  IRunDetail,
  IRunRow,
  IRunsPage,
  JSONValue,
  SeriesValue
} from './tokens';
import { untrustedNotebookText } from './untrusted';

/** A data reference with the list it came from. */
type DataRow = IDataRef & { direction: 'input' | 'output' };

/** Text artifacts are previewed (as text: never parsed as HTML) up to this many bytes. */
const PREVIEW_BYTES = 64 * 1024;

/** Artifacts shown as text in the run view. */
export function isTextArtifact(a: IArtifact): boolean {
  const t = a.media_type.toLowerCase();
  return (
    a.kind === 'text' ||
    t.startsWith('text/') ||
    t.startsWith('application/json') ||
    /\.(txt|log|md|csv|json|ya?ml|toml|ini|cfg)$/i.test(a.name)
  );
}

/** A query-language string literal ('...' with ' doubled), for the ids in relation queries. */
function quoted(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function section(title: string, ...body: Array<Node | null>): HTMLElement {
  return h('section', { class: 'nbtrack-section' }, h('h3', {}, title), ...body);
}

export class RunDetailWidget extends Widget {
  private _steps: StepChartGrid | null = null;
  private _editor: CodeEditorWrapper | null = null;
  private _body: HTMLDivElement;
  private _status: HTMLDivElement;

  constructor(
    private _app: INbtrackApp,
    readonly runId: string
  ) {
    super();
    this.addClass('nbtrack-detail');
    this.id = `nbtrack-run-${runId}`;
    this.title.label = `run ${runId.slice(-8)}`;
    this.title.closable = true;
    this._status = h('div', { class: 'nbtrack-job', attrs: { role: 'status' } });
    this._body = h('div', { class: 'nbtrack-detail-body' }, 'Loading…');
    this.node.append(this._status, this._body);
    void this.load();
  }

  async load(): Promise<void> {
    try {
      const run = await requestAPI<IRunDetail>(`runs/${encodeURIComponent(this.runId)}`);
      this._render(run);
    } catch (e) {
      this._body.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }

  dispose(): void {
    this._clear();
    super.dispose();
  }

  private _clear(): void {
    this._steps?.dispose();
    this._steps = null;
    this._editor?.dispose();
    this._editor = null;
  }

  private _render(run: IRunDetail): void {
    this._clear();
    if (run.status === 'running') {
      // A run still going: follow its metrics until it finishes.
      window.setTimeout(() => !this.isDisposed && void this.load(), 2000);
    }
    this.title.label = run.name ? `${run.name} · ${run.short_id}` : `run ${run.short_id}`;
    this.title.caption = `nbtrack run ${run.run_id}`;
    const b = this._body;
    b.replaceChildren();

    const notebook = this._outputNotebook(run);
    const notebooks = run.artifacts.filter(a => a.kind === 'notebook');
    const notebookArtifact =
      notebooks.find(a => a.name === 'output.ipynb') ?? notebooks[notebooks.length - 1];
    // Only notebook runs can be re-executed (the server re-runs their notebook with papermill).
    const rerunnable = run.kind === 'notebook' && !!run.source_path;
    const cellPath =
      run.source_cell && run.source_path?.toLowerCase().endsWith('.ipynb') ? run.source_path : null;
    const actions = h(
      'div',
      { class: 'nbtrack-row nbtrack-actions' },
      rerunnable
        ? h(
            'button',
            {
              class: 'jp-mod-styled jp-mod-accept nbtrack-button nbtrack-rerun',
              title: 'Run the notebook again with papermill, with the params you edit',
              on: { click: () => void this._rerun(run) }
            },
            'Re-run with edited params…'
          )
        : null,
      cellPath && run.source_cell
        ? h(
            'button',
            {
              class: 'jp-mod-styled nbtrack-button nbtrack-open-cell',
              title: `Open ${cellPath} and select the cell that made this run`,
              on: { click: () => void this._openCell(cellPath, run.source_cell ?? '') }
            },
            'Open the notebook at this cell'
          )
        : null,
      notebook || notebookArtifact
        ? h(
            'button',
            {
              class: 'jp-mod-styled nbtrack-button nbtrack-open-notebook',
              title:
                notebook ?? 'Saves the recorded output notebook to nbtrack-outputs/ and opens it',
              on: { click: () => void this._openNotebook(run, notebook, notebookArtifact) }
            },
            'Open output notebook'
          )
        : null,
      h(
        'button',
        {
          class: 'jp-mod-styled nbtrack-button nbtrack-open-lineage',
          title:
            'The graph of the dataset versions this run read and wrote, and the runs around them',
          on: { click: () => this._app.openLineage({ run: run.run_id }) }
        },
        'Lineage'
      ),
      h(
        'button',
        { class: 'jp-mod-styled nbtrack-button', on: { click: () => void this.load() } },
        'Refresh'
      )
    );

    const facts: Array<[string, string | number | null]> = [
      ['run id', run.run_id],
      ['experiment', run.experiment],
      ['kind', run.kind],
      ['start', fmtTime(run.start)],
      ['duration', fmtDuration(run.duration_s)],
      ['source', run.source_path],
      ['execution count', run.execution_count],
      ['host / pid', run.host ? `${run.host} / ${run.pid ?? ''}` : null],
      ['archived', run.archived ? `${fmtTime(run.archived)} (hidden from listings)` : null],
      ['note', run.tags['nbtrack.note'] ?? null]
    ];
    b.append(
      h(
        'h2',
        { class: 'nbtrack-run-title' },
        h('span', {
          class: 'nbtrack-swatch',
          attrs: { style: `background:${runColor(run.run_id)}`, 'aria-hidden': 'true' }
        }),
        ' ',
        statusBadge(run.status),
        ' ',
        run.name ?? '(unnamed run)'
      ),
      actions
    );
    const meta = kvTable(
      facts.filter(([, v]) => v !== null && v !== ''),
      'nbtrack-meta'
    );
    const relations = h('div', { class: 'nbtrack-relations' });
    b.append(meta, relations);
    void this._relations(run, meta, relations);

    if (run.error) {
      b.append(
        section(
          'Error',
          h(
            'pre',
            { class: 'nbtrack-traceback' },
            `${run.error.type}: ${run.error.message}\n${run.error.traceback}`
          )
        )
      );
    }

    const params = Object.entries(run.params);
    b.append(
      section(
        'Params',
        params.length
          ? kvTable(params, 'nbtrack-params')
          : h('p', { class: 'nbtrack-muted' }, 'No params logged.')
      )
    );

    b.append(this._metrics(run));

    const artifacts = run.artifacts;
    const figures = artifacts.filter(a => a.kind === 'figure' || a.media_type.startsWith('image/'));
    if (figures.length) {
      b.append(
        section(
          'Figures',
          h(
            'div',
            { class: 'nbtrack-figures' },
            ...figures.map(a =>
              h(
                'figure',
                {},
                h('img', {
                  attrs: { src: artifactURL(a.hash), alt: a.name, loading: 'lazy' }
                }),
                h('figcaption', {}, a.name)
              )
            )
          )
        )
      );
    }
    const others = artifacts.filter(a => !figures.includes(a));
    if (others.length) {
      const previews = others.filter(isTextArtifact).map(a => this._textPreview(a));
      b.append(section('Artifacts', this._artifactTable(others), ...previews));
    }

    if (run.code) {
      const host = h('div', { class: 'nbtrack-code' });
      b.append(section('Code', host));
      this._mountCode(host, run.code);
    }

    const { inputs, outputs } = run;
    if (inputs.length || outputs.length) {
      b.append(
        section(
          'Data',
          this._dataTable([
            ...inputs.map(d => ({ ...d, direction: 'input' as const })),
            ...outputs.map(d => ({ ...d, direction: 'output' as const }))
          ])
        )
      );
    }

    const tags = Object.entries(run.tags);
    if (tags.length) {
      b.append(section('Tags', kvTable(tags)));
    }
    if (Object.keys(run.environment).length) {
      b.append(
        section(
          'Environment',
          h(
            'details',
            {},
            h('summary', {}, 'environment'),
            h('pre', { class: 'nbtrack-env' }, JSON.stringify(run.environment, null, 2))
          )
        )
      );
    }
  }

  /**
   * The parent, the children and the run this one re-ran as links in the facts table (short ids at
   * once, names when they arrive), and a sweep's leaderboard below it.
   */
  private async _relations(
    run: IRunDetail,
    meta: HTMLTableElement,
    host: HTMLElement
  ): Promise<void> {
    const rerunOf = run.tags['rerun_of'] ?? run.tags['nbtrack.rerun_of'] ?? null;
    const links: HTMLAnchorElement[] = [];
    const link = (id: string): HTMLAnchorElement => {
      const a = actionLink(id.slice(-8), () => this._app.openRun(id), 'nbtrack-run-link', {
        'data-run-id': id
      });
      links.push(a);
      return a;
    };
    const row = (label: string, items: HTMLElement[]): void => {
      meta.tBodies[0]?.append(h('tr', {}, h('th', {}, label), h('td', {}, ...items)));
    };
    if (run.parent_id) {
      row('parent', [link(run.parent_id)]);
    }
    if (rerunOf) {
      row('re-run of', [link(rerunOf)]);
    }
    if (run.children.length && run.kind !== 'sweep') {
      row('children', run.children.map(link));
    }
    const others = [run.parent_id, rerunOf].filter((x): x is string => !!x);
    const where = [
      ...(others.length ? [`run_id in (${others.map(quoted).join(', ')})`] : []),
      ...(run.children.length ? [`parent = ${quoted(run.run_id)}`] : [])
    ].join(' or ');
    if (!where) {
      return;
    }
    let rows: IRunRow[];
    try {
      rows = (await requestAPI<IRunsPage>('runs', { where, limit: 1000 })).runs;
    } catch (e) {
      host.append(h('div', { class: 'nbtrack-error' }, (e as Error).message));
      return;
    }
    const byId = new Map(rows.map(r => [r.run_id, r]));
    const label = (id: string): string => {
      const r = byId.get(id);
      return r ? `${r.name ?? '(unnamed)'} · ${r.short_id}` : id.slice(-8);
    };
    for (const a of links) {
      a.textContent = label(a.dataset.runId ?? '');
    }
    const children = rows.filter(r => r.parent_id === run.run_id);
    if (run.kind === 'sweep' && children.length) {
      host.append(
        this._leaderboard(children, id =>
          actionLink(label(id), () => this._app.openRun(id), 'nbtrack-run-link', {
            'data-run-id': id
          })
        ),
        sweepEffects(children, commonMetric(children)) ?? ''
      );
    }
  }

  /** A sweep's jobs ranked by their most common metric, the best marked. */
  private _leaderboard(jobs: IRunRow[], link: (id: string) => HTMLElement): HTMLElement {
    const metric = commonMetric(jobs);
    const params = [...new Set(jobs.flatMap(j => Object.keys(j.params)))].filter(
      k => !isAutologParam(k)
    );
    const value = (j: IRunRow): number | null => {
      const v = metric ? j.metrics[metric] : null;
      return typeof v === 'number' ? v : null;
    };
    const lower = metric ? lowerIsBetter(metric) : false;
    const ranked = [...jobs].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (va === null || vb === null) {
        return va === null ? (vb === null ? 0 : 1) : -1;
      }
      return lower ? va - vb : vb - va;
    });
    const best = metric ? bestIndex(metric, ranked.map(value)) : null;
    return section(
      `Sweep leaderboard${metric ? ` (by ${metric}, ${lower ? 'lower' : 'higher'} is better)` : ''}`,
      h(
        'table',
        { class: 'nbtrack-table nbtrack-leaderboard' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, '#'),
            h('th', {}, 'run'),
            h('th', {}, 'status'),
            ...params.map(p => h('th', {}, p)),
            metric ? h('th', {}, metric) : null
          )
        ),
        h(
          'tbody',
          {},
          ...ranked.map((j, i) =>
            h(
              'tr',
              {},
              h('td', {}, String(i + 1)),
              h('td', {}, link(j.run_id), i === best ? ' ★ best' : ''),
              h('td', {}, statusBadge(j.status)),
              ...params.map(p => h('td', {}, fmt(j.params[p]))),
              metric
                ? h('td', { class: i === best ? 'nbtrack-best' : '' }, fmt(j.metrics[metric]))
                : null
            )
          )
        )
      )
    );
  }

  /** The first PREVIEW_BYTES of a text artifact, shown as text. */
  private _textPreview(a: IArtifact): HTMLElement {
    const pre = h(
      'pre',
      { class: 'nbtrack-text-preview', attrs: { 'data-artifact': a.name } },
      '…'
    );
    void (async () => {
      try {
        const response = await ServerConnection.makeRequest(
          artifactURL(a.hash),
          { headers: { Range: `bytes=0-${PREVIEW_BYTES - 1}` } },
          ServerConnection.makeSettings()
        );
        if (!response.ok) {
          throw new Error(`${response.status} ${response.statusText}`);
        }
        const bytes = new Uint8Array(await response.arrayBuffer()).slice(0, PREVIEW_BYTES);
        const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
        pre.textContent =
          a.size > PREVIEW_BYTES ? `${text}\n… (first 64 KB of ${fmt(a.size)} bytes)` : text;
      } catch (e) {
        pre.textContent = `Cannot preview ${a.name}: ${(e as Error).message}`;
      }
    })();
    return h('details', { attrs: { open: '' } }, h('summary', {}, `preview: ${a.name}`), pre);
  }

  private async _openCell(path: string, cellId: string): Promise<void> {
    try {
      const found = await this._app.openNotebookCell(path, cellId);
      if (!found) {
        this._status.replaceChildren(
          h(
            'span',
            { class: 'nbtrack-error' },
            `${path} has no cell with id ${cellId} any more (edited or re-created since the run).`
          )
        );
      }
    } catch (e) {
      this._status.replaceChildren(
        h('span', { class: 'nbtrack-error' }, `Cannot open ${path}: ${(e as Error).message}`)
      );
    }
  }

  private _metrics(run: IRunDetail): HTMLElement {
    const latest = Object.entries(run.latest);
    const series = Object.entries(run.metric_series)
      .filter(([, pts]) => pts.length > 1)
      .map(([key, pts]) => ({
        title: key,
        lines: [
          {
            label: key,
            color: runColor(run.run_id),
            points: pts.map(([step, value]): [number, SeriesValue] => [step, value])
          }
        ]
      }));
    if (!latest.length && !series.length) {
      return section('Metrics', h('p', { class: 'nbtrack-muted' }, 'No metrics logged.'));
    }
    // Step charts under one smoothing control (remembered in this browser for every view).
    this._steps = series.length ? new StepChartGrid(series) : null;
    return section('Metrics', kvTable(latest, 'nbtrack-metrics'), this._steps?.node ?? null);
  }

  private _artifactTable(items: IArtifact[]): HTMLElement {
    return h(
      'table',
      { class: 'nbtrack-table' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'name'), h('th', {}, 'kind'), h('th', {}, 'size'), h('th', {}, ''))
      ),
      h(
        'tbody',
        {},
        ...items.map(a =>
          h(
            'tr',
            {},
            h('td', {}, a.name),
            h('td', {}, a.kind),
            h('td', {}, fmt(a.size)),
            h(
              'td',
              {},
              h(
                'a',
                {
                  attrs: {
                    href: artifactURL(a.hash),
                    download: a.name,
                    target: '_blank',
                    rel: 'noopener'
                  }
                },
                'download'
              )
            )
          )
        )
      )
    );
  }

  private _dataTable(items: DataRow[]): HTMLElement {
    return h(
      'table',
      { class: 'nbtrack-table nbtrack-data' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['', 'variable', 'dataset', 'version', 'rows', 'columns', 'fingerprint', ''].map(t =>
            h('th', {}, t)
          )
        )
      ),
      h(
        'tbody',
        {},
        ...items.map(d => {
          const snippet =
            d.dataset !== null && d.version !== null ? loadSnippet(d.dataset, d.version) : null;
          return h(
            'tr',
            {},
            h('td', {}, d.direction === 'input' ? '→ in' : 'out →'),
            h('td', {}, fmt(d.name)),
            h('td', {}, fmt(d.dataset)),
            h('td', {}, fmt(d.version)),
            h('td', {}, fmt(d.rows)),
            h('td', {}, fmt(d.columns)),
            h('td', { class: 'nbtrack-mono' }, d.fingerprint.slice(0, 12)),
            h('td', {}, snippet ? snippetButtons(this._app, snippet) : null)
          );
        })
      )
    );
  }

  private _mountCode(host: HTMLElement, code: string): void {
    if (!this._app.editorFactory) {
      host.append(h('pre', {}, code));
      return;
    }
    const model = new CodeEditor.Model({ mimeType: 'text/x-python' });
    model.sharedModel.setSource(code);
    this._editor = new CodeEditorWrapper({
      factory: this._app.editorFactory,
      model,
      editorOptions: { config: { readOnly: true, lineNumbers: true } }
    });
    this._editor.addClass('nbtrack-editor');
    Widget.attach(this._editor, host);
  }

  private async _openNotebook(
    run: IRunDetail,
    path: string | null,
    artifact: IArtifact | undefined
  ): Promise<void> {
    try {
      if (path) {
        await this._app.openNotebook(path);
        return;
      }
      if (!artifact) {
        return;
      }
      const response = await ServerConnection.makeRequest(
        artifactURL(artifact.hash),
        {},
        ServerConnection.makeSettings()
      );
      if (!response.ok) {
        throw new Error(`the output notebook could not be read (${response.status})`);
      }
      const content: unknown = await response.json();
      const text = untrustedNotebookText(content, { run_id: run.run_id, artifact: artifact.hash });
      const base = (artifact.name || 'output')
        .replace(/[^A-Za-z0-9._-]+/g, '_')
        .replace(/\.ipynb$/, '');
      await this._app.openNotebookCopy(`${base}-${run.short_id}.ipynb`, text);
    } catch (e) {
      this._status.replaceChildren(
        h(
          'span',
          { class: 'nbtrack-error' },
          `Cannot open the output notebook: ${(e as Error).message}`
        )
      );
    }
  }

  private _outputNotebook(run: IRunDetail): string | null {
    // A notebook path recorded with the run (artifact meta or tag) wins over the stored copy. It
    // opens the file as it is on disk (trusted only if this user's server signed it); anything but
    // a .ipynb path is ignored, so a store cannot make this button open some other file.
    const isNotebookPath = (p: unknown): p is string =>
      typeof p === 'string' && p.toLowerCase().endsWith('.ipynb');
    for (const a of run.artifacts) {
      const path = a.kind === 'notebook' ? a.meta?.path : undefined;
      if (isNotebookPath(path)) {
        return path;
      }
    }
    const tagged = [run.tags['output_notebook'], run.tags['papermill.output']];
    return tagged.find(isNotebookPath) ?? null;
  }

  private async _rerun(run: IRunDetail): Promise<void> {
    const form = h('div', { class: 'nbtrack-rerun-form' });
    const inputs = new Map<string, HTMLInputElement>();
    // papermill injects parameters as Python assignments: only identifier-named params are
    // notebook parameters; the others (autolog's model.max_depth, ...) are kept as recorded.
    const editable = Object.entries(run.params).filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
    const kept = Object.keys(run.params).length - editable.length;
    for (const [k, v] of editable) {
      const input = h('input', { class: 'jp-mod-styled', attrs: { 'data-param': k } });
      input.value = typeof v === 'string' ? v : JSON.stringify(v);
      inputs.set(k, input);
      form.append(h('label', {}, h('span', {}, k), input));
    }
    if (!inputs.size) {
      form.append(h('p', {}, 'This run has no params; it will be re-run as recorded.'));
    }
    if (kept) {
      form.append(
        h(
          'p',
          { class: 'nbtrack-muted' },
          `${kept} recorded value${kept === 1 ? '' : 's'} that are not notebook params (such as fitted models' settings) are left as the notebook computes them.`
        )
      );
    }
    const result = await showDialog({
      title: `Re-run ${run.name ?? run.short_id}`,
      body: new Widget({ node: form }),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Re-run' })]
    });
    if (!result.button.accept) {
      return;
    }
    const params: Record<string, JSONValue> = {};
    for (const [k, input] of inputs) {
      const original = run.params[k];
      if (typeof original === 'string') {
        params[k] = input.value;
      } else {
        try {
          params[k] = JSON.parse(input.value) as JSONValue;
        } catch {
          params[k] = input.value;
        }
      }
    }
    this._status.replaceChildren('Starting re-run…');
    try {
      const { job_id } = await requestAPI<IRerunAccepted>(
        `runs/${encodeURIComponent(run.run_id)}/rerun`,
        {},
        { method: 'POST', body: JSON.stringify({ params }) }
      );
      await this._watchJob(job_id);
    } catch (e) {
      this._status.replaceChildren(
        h('span', { class: 'nbtrack-error' }, `Re-run failed: ${(e as Error).message}`)
      );
    }
  }

  private async _watchJob(jobId: string): Promise<void> {
    for (;;) {
      const job = await requestAPI<IJob>(`jobs/${encodeURIComponent(jobId)}`);
      if (job.status === 'queued' || job.status === 'running') {
        const progress = ` ${Math.round(job.progress * 100)}%`;
        this._status.replaceChildren(`Re-run ${job.status}${progress}…`);
        await new Promise(r => setTimeout(r, 1000));
        continue;
      }
      const err = job.error;
      const newRun = job.run_id;
      this._status.replaceChildren(
        h(
          'span',
          { class: err ? 'nbtrack-error' : 'nbtrack-ok' },
          `Re-run ${job.status}${err ? `: ${err}` : ''}`
        )
      );
      if (newRun) {
        this._status.append(
          ' ',
          h(
            'button',
            {
              class: 'jp-mod-styled nbtrack-button',
              on: { click: () => this._app.openRun(newRun) }
            },
            'Open new run'
          )
        );
      }
      return;
    }
  }
}

/** "Copy" and "Insert into notebook" buttons for a snippet. */
export function snippetButtons(app: INbtrackApp, snippet: string): HTMLElement {
  return h(
    'span',
    { class: 'nbtrack-snippet' },
    h('code', {}, snippet),
    h(
      'button',
      {
        class: 'jp-mod-styled nbtrack-button',
        title: 'Copy to clipboard',
        on: { click: () => app.copySnippet(snippet) }
      },
      'Copy'
    ),
    h(
      'button',
      {
        class: 'jp-mod-styled nbtrack-button',
        title: 'Insert a cell below the active cell of the current notebook',
        on: { click: () => app.insertSnippet(snippet) }
      },
      'Insert'
    )
  );
}
