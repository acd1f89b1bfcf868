/**
 * `%track open` in a notebook displays an `application/vnd.nbtrack.open+json` bundle
 * (`{"view": "workspace" | "run" | "compare", "experiment"?, "where"?, "run_ids"?, "created"}`);
 * this renderer shows it as a button and, when the output is fresh (made in the last
 * FRESH_SECONDS, i.e. just now by the kernel, not reloaded with a saved notebook), opens the view
 * at once. Everything shown is text; the bundle only selects which nbtrack command runs.
 */
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';

import { h } from './dom';

export const OPEN_MIME = 'application/vnd.nbtrack.open+json';
const FRESH_SECONDS = 30;

interface IOpenRequest {
  view?: unknown;
  experiment?: unknown;
  where?: unknown;
  run_ids?: unknown;
  created?: unknown;
}

/** The command and its arguments for a bundle, or null when the bundle asks for nothing known. */
export function openCommand(
  data: IOpenRequest
): { command: string; args: Record<string, string | string[]>; label: string } | null {
  const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const ids = Array.isArray(data.run_ids)
    ? data.run_ids.filter((i): i is string => typeof i === 'string')
    : [];
  if (data.view === 'run' && ids.length === 1) {
    return { command: 'nbtrack:open-run', args: { runId: ids[0] }, label: `Open run ${ids[0]}` };
  }
  if (data.view === 'compare' && ids.length >= 2) {
    return {
      command: 'nbtrack:open-compare',
      args: { runIds: ids },
      label: `Compare ${ids.length} runs`
    };
  }
  if (data.view === 'workspace' || data.view === undefined) {
    const args: Record<string, string> = {};
    const experiment = str(data.experiment);
    const where = str(data.where);
    if (experiment !== undefined) {
      args.experiment = experiment;
    }
    if (where !== undefined) {
      args.where = where;
    }
    return {
      command: 'nbtrack:open-workspace',
      args,
      label: experiment
        ? `Open the nbtrack workspace on ${experiment}`
        : 'Open the nbtrack workspace'
    };
  }
  return null;
}

export class OpenRenderer extends Widget implements IRenderMime.IRenderer {
  constructor(private _commands: CommandRegistry) {
    super();
    this.addClass('nbtrack-open-output');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const data = (model.data[OPEN_MIME] ?? {}) as IOpenRequest;
    const target = openCommand(data);
    if (!target) {
      this.node.replaceChildren(h('span', { class: 'nbtrack-error' }, 'Unknown nbtrack view.'));
      return Promise.resolve();
    }
    const run = (): void => void this._commands.execute(target.command, target.args);
    this.node.replaceChildren(
      h(
        'button',
        { class: 'jp-mod-styled jp-mod-accept nbtrack-button', on: { click: run } },
        target.label
      )
    );
    const created = typeof data.created === 'number' ? data.created : 0;
    if (Math.abs(Date.now() / 1000 - created) < FRESH_SECONDS) {
      run();
    }
    return Promise.resolve();
  }
}
