import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbtrack:plugin',
  description: 'nbtrack sidebar',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const panel = new Widget();
    panel.id = 'nbtrack-sidebar';
    panel.title.caption = 'nbtrack';
    panel.title.label = 'nbtrack';
    panel.node.textContent = 'nbtrack';
    app.shell.add(panel, 'left', { rank: 600 });
    restorer?.add(panel, 'nbtrack-sidebar');
  }
};

export default plugin;
