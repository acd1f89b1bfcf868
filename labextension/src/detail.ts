/**
 * Run detail (main area): params, metrics with step charts, figures, code
 * (read-only editor with syntax highlighting), environment, data, actions.
 */
import { CodeEditor, CodeEditorWrapper } from '@jupyterlab/codeeditor';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { Chart, lineChart } from './charts';
import { INbtrackApp, loadSnippet } from './context';
import { fmt, fmtDuration, fmtTime, h, kvTable, statusBadge } from './dom';
import { artifactURL, requestAPI } from './handler';
import {
  IArtifact,
  IDataRef,
  IJob,
  IRerunAccepted,
  IRunDetail,
  JSONValue,
  SeriesValue
} from './tokens';
import { untrustedNotebookText } from './untrusted';

/** A data reference with the list it came from. */
type DataRow = IDataRef & { direction: 'input' | 'output' };

function section(title: string, ...body: Array<Node | null>): HTMLElement {
  return h('section', { class: 'nbtrack-section' }, h('h3', {}, title), ...body);
}

export class RunDetailWidget extends Widget {
  private _charts: Chart[] = [];
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
    this._charts.forEach(c => c.dispose());
    this._charts = [];
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
    const actions = h(
      'div',
      { class: 'nbtrack-row nbtrack-actions' },
      h(
        'button',
        {
          class: 'jp-mod-styled jp-mod-accept nbtrack-button',
          on: { click: () => void this._rerun(run) }
        },
        'Re-run with edited params…'
      ),
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
      ['parent', run.parent_id],
      ['children', run.children.length ? run.children.join(', ') : null],
      ['source', run.source_path],
      ['execution count', run.execution_count],
      ['host / pid', run.host ? `${run.host} / ${run.pid ?? ''}` : null]
    ];
    b.append(
      h(
        'h2',
        { class: 'nbtrack-run-title' },
        statusBadge(run.status),
        ' ',
        run.name ?? '(unnamed run)'
      ),
      actions,
      kvTable(
        facts.filter(([, v]) => v !== null && v !== ''),
        'nbtrack-meta'
      )
    );

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
      b.append(section('Artifacts', this._artifactTable(others)));
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

  private _metrics(run: IRunDetail): HTMLElement {
    const latest = Object.entries(run.latest);
    const series = run.metric_series;
    const charts = h('div', { class: 'nbtrack-charts' });
    for (const [key, pts] of Object.entries(series)) {
      if (pts.length > 1) {
        const c = lineChart(key, [
          { label: key, points: pts.map(([step, value]): [number, SeriesValue] => [step, value]) }
        ]);
        this._charts.push(c);
        charts.append(c.node);
      }
    }
    if (!latest.length && !this._charts.length) {
      return section('Metrics', h('p', { class: 'nbtrack-muted' }, 'No metrics logged.'));
    }
    return section('Metrics', kvTable(latest, 'nbtrack-metrics'), charts);
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
    for (const [k, v] of Object.entries(run.params)) {
      const input = h('input', { class: 'jp-mod-styled', attrs: { 'data-param': k } });
      input.value = typeof v === 'string' ? v : JSON.stringify(v);
      inputs.set(k, input);
      form.append(h('label', {}, h('span', {}, k), input));
    }
    if (!inputs.size) {
      form.append(h('p', {}, 'This run has no params; it will be re-run as recorded.'));
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
