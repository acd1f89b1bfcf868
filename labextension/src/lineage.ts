/**
 * The lineage view (main area): the graph of runs and dataset versions around a run or a dataset version
 * (GET /lineage), laid out left to right by dagre (data flows from the versions a run read, through the
 * run, to the versions it wrote). Drawn as SVG; every label is set with textContent. A click on a run
 * opens its run view; a click on a dataset version opens it in the datasets view.
 */
import { graphlib, layout } from '@dagrejs/dagre';
import { Widget } from '@lumino/widgets';

import { INbtrackApp } from './context';
import { append, cssVar, fmt, h, STATUS_MARK } from './dom';
import { requestAPI } from './handler';
import { ILineage, ILineageEdge, ILineageNode, RunStatus } from './tokens';

/** What a lineage view is about: a run (id, short id or name) or a dataset version. */
export interface ILineageSubject {
  run?: string;
  dataset?: string;
  /** the dataset's version (default: the latest) */
  version?: number;
}

const SVG = 'http://www.w3.org/2000/svg';
/** The server stops walking the graph at this many nodes (data/_lineage.py max_nodes). */
const MAX_NODES = 200;
const NODE_HEIGHT = 42;
const MAX_TEXT = 40; // characters of a title before it is cut (the full text is in the tooltip)
/**
 * Above this many nodes dagre skips its crossing-reduction heuristic: on a 2-core machine under load a
 * 201-node graph with long edges took 3.1-5.3 s to lay out with it and 1.7-2.8 s without (50 runs:
 * 1.0-2.3 s against 0.5 s); smaller graphs keep the tidier order.
 */
const ORDER_HEURISTIC_MAX_NODES = 60;
/** The smallest scale a wide graph is shrunk to, to fit its tab, before it scrolls instead. */
const MIN_SCALE = 0.75;

const EDGE_TEXT: Record<ILineageEdge['kind'], string> = {
  input: 'read by',
  output: 'wrote',
  parent: 'next version'
};

/** A subject as text ("run 1a2b3c4d", "customers@2", "customers (latest)"). */
export function subjectText(s: ILineageSubject): string {
  if (s.run !== undefined) {
    return `run ${s.run.length > 12 ? s.run.slice(-8) : s.run}`;
  }
  return s.version !== undefined
    ? `${s.dataset ?? ''}@${s.version}`
    : `${s.dataset ?? ''} (latest)`;
}

/**
 * What a user typed in the palette's prompt: `name@N` is a dataset version, anything else a run (id,
 * short id or name, as everywhere else).
 */
export function parseSubject(text: string): ILineageSubject | null {
  const t = text.trim();
  if (!t) {
    return null;
  }
  const m = /^(.+)@(\d+)$/.exec(t);
  return m ? { dataset: m[1], version: Number(m[2]) } : { run: t };
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {}
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, String(v));
  }
  return el;
}

/** An SVG text element whose content is text, never markup. */
function svgText(text: string, attrs: Record<string, string | number>): SVGTextElement {
  const el = svg('text', attrs);
  el.textContent = text;
  return el;
}

function cut(text: string, n = MAX_TEXT): string {
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

/** The two lines a node shows: a title and a muted subtitle. */
export function nodeLines(n: ILineageNode): [string, string] {
  if (n.kind === 'run') {
    const id = n.run_id ?? n.id.slice(4);
    const status = n.status ?? '';
    const mark = status in STATUS_MARK ? STATUS_MARK[status as RunStatus] + ' ' : '';
    return [n.name || `run ${id.slice(-8)}`, `run ${id.slice(-8)} · ${mark}${status}`];
  }
  if (n.kind === 'version') {
    const shape = n.rows !== null && n.rows !== undefined ? `${fmt(n.rows)} rows` : '';
    const cols = n.columns !== null && n.columns !== undefined ? ` × ${fmt(n.columns)} cols` : '';
    return [`${n.dataset ?? ''}@${fmt(n.version)}`, `dataset version · ${shape}${cols}`];
  }
  return ['unversioned data', `fingerprint ${(n.fingerprint ?? n.id.slice(5)).slice(0, 12)}`];
}

let measurer: CanvasRenderingContext2D | null = null;

/**
 * The width a line of text takes in the theme's UI font (canvas measureText; an estimate when there
 * is no canvas): the title is 12px semi-bold, the subtitle 11px (style/views.css).
 */
function textWidth(text: string, font: string): number {
  measurer = measurer ?? document.createElement('canvas').getContext('2d');
  if (!measurer) {
    return text.length * 7.5;
  }
  measurer.font = `${font} ${cssVar('--jp-ui-font-family', 'sans-serif')}`;
  return measurer.measureText(text).width;
}

interface IPlaced {
  node: ILineageNode;
  lines: [string, string];
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The graph laid out by dagre (left to right): node boxes and edge polylines. */
export function layoutLineage(graph: ILineage): {
  nodes: IPlaced[];
  edges: Array<{ edge: ILineageEdge; points: Array<{ x: number; y: number }> }>;
  width: number;
  height: number;
} {
  const g = new graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 70, edgesep: 12, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const lines = new Map<string, [string, string]>();
  for (const n of graph.nodes) {
    const l = nodeLines(n);
    lines.set(n.id, l);
    const width = Math.ceil(
      Math.max(textWidth(cut(l[0]), '600 12px'), textWidth(cut(l[1]), '11px')) + 28
    );
    g.setNode(n.id, { width: Math.max(120, width), height: NODE_HEIGHT });
  }
  graph.edges.forEach((e, i) => {
    if (g.hasNode(e.source) && g.hasNode(e.target)) {
      g.setEdge(e.source, e.target, { minlen: 1 }, `${e.kind}-${i}`);
    }
  });
  layout(g, { disableOptimalOrderHeuristic: graph.nodes.length > ORDER_HEURISTIC_MAX_NODES });
  const nodes: IPlaced[] = graph.nodes.map(n => {
    const p = g.node(n.id) as { x: number; y: number; width: number; height: number };
    return { node: n, lines: lines.get(n.id) ?? ['', ''], ...p };
  });
  const edges = graph.edges
    .map((edge, i) => {
      const label = g.edge({ v: edge.source, w: edge.target, name: `${edge.kind}-${i}` }) as
        { points?: Array<{ x: number; y: number }> } | undefined;
      return { edge, points: label?.points ?? [] };
    })
    .filter(e => e.points.length > 1);
  const size = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width: size.width ?? 0, height: size.height ?? 0 };
}

export class LineageWidget extends Widget {
  private _body: HTMLDivElement;

  constructor(
    private _app: INbtrackApp,
    readonly subject: ILineageSubject
  ) {
    super();
    this.addClass('nbtrack-detail');
    this.addClass('nbtrack-lineage');
    const key = subject.run ?? `${subject.dataset ?? ''}@${subject.version ?? 'latest'}`;
    this.id = `nbtrack-lineage-${encodeURIComponent(key)}`;
    this.title.label = `lineage · ${subjectText(subject)}`;
    this.title.caption = `nbtrack lineage of ${subjectText(subject)}`;
    this.title.closable = true;
    this._body = h('div', { class: 'nbtrack-detail-body nbtrack-lineage-body' }, 'Loading…');
    this.node.append(this._body);
    void this.load();
  }

  async load(): Promise<void> {
    try {
      const s = this.subject;
      const graph = await requestAPI<ILineage>('lineage', {
        run: s.run,
        dataset: s.dataset,
        version: s.version
      });
      if (graph.nodes.length > ORDER_HEURISTIC_MAX_NODES) {
        // a large graph takes a moment to lay out: say so before the page is busy
        this._body.replaceChildren(
          h('p', { class: 'nbtrack-muted' }, `Laying out ${graph.nodes.length} nodes…`)
        );
        await new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve)));
      }
      this._render(graph);
    } catch (e) {
      this._body.replaceChildren(h('div', { class: 'nbtrack-error' }, (e as Error).message));
    }
  }

  private _render(graph: ILineage): void {
    const root = graph.nodes.find(n => n.id === graph.root);
    const runs = graph.nodes.filter(n => n.kind === 'run').length;
    const versions = graph.nodes.filter(n => n.kind === 'version').length;
    const unversioned = graph.nodes.filter(n => n.kind === 'data').length;
    const rootTitle = root ? nodeLines(root)[0] : graph.root;
    this.title.label = `lineage · ${cut(rootTitle, 24)}`;
    this.title.caption = `nbtrack lineage of ${root?.label ?? graph.root}`;
    const counts =
      `${runs} run${runs === 1 ? '' : 's'}, ${versions} dataset version${versions === 1 ? '' : 's'}` +
      (unversioned ? `, ${unversioned} unversioned` : '') +
      (graph.nodes.length >= MAX_NODES ? ` (the first ${MAX_NODES} nodes)` : '');
    const alone =
      graph.nodes.length === 1 && root?.kind === 'run'
        ? 'This run recorded no DataFrame it read or wrote (a %%track cell records them; ' +
          'nbtrack.snapshot() makes a version).'
        : graph.nodes.length === 1
          ? 'No run recorded reading or writing this version.'
          : '';
    this._body.replaceChildren();
    append(
      this._body,
      h('h2', {}, 'Lineage of ', h('span', { class: 'nbtrack-lineage-root-name' }, rootTitle)),
      h(
        'div',
        { class: 'nbtrack-row nbtrack-lineage-head' },
        h('span', { class: 'nbtrack-muted nbtrack-lineage-count' }, counts),
        h(
          'span',
          { class: 'nbtrack-muted' },
          'Data flows left to right: the versions a run read, the run, the versions it wrote. ' +
            'Click a run to open it, a dataset version to open it in the datasets view.'
        ),
        h(
          'button',
          { class: 'jp-mod-styled nbtrack-button', on: { click: () => void this.load() } },
          'Refresh'
        )
      ),
      alone ? h('p', { class: 'nbtrack-muted nbtrack-lineage-alone' }, alone) : null,
      h('div', { class: 'nbtrack-lineage-canvas' }, this._drawing(graph))
    );
    // a large graph scrolls: bring the node it was opened on into view
    this._body
      .querySelector('.nbtrack-lineage-root')
      ?.scrollIntoView({ block: 'nearest', inline: 'center' });
  }

  private _drawing(graph: ILineage): SVGSVGElement {
    const placed = layoutLineage(graph);
    const [width, height] = [Math.ceil(placed.width), Math.ceil(placed.height)];
    const root = svg('svg', {
      class: 'nbtrack-lineage-graph',
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      // shrunk to fit the tab down to MIN_SCALE (text stays readable), wider graphs scroll
      style: `max-width: 100%; min-width: ${Math.ceil(width * MIN_SCALE)}px; height: auto`,
      role: 'img',
      'aria-label': 'lineage graph'
    });
    const marker = svg('marker', {
      id: `${this.id}-arrow`,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse'
    });
    marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'nbtrack-lineage-arrow' }));
    const defs = svg('defs');
    defs.append(marker);
    root.append(defs);
    const labels = new Map(placed.nodes.map(p => [p.node.id, p.lines[0]]));
    for (const { edge, points } of placed.edges) {
      const path = svg('path', {
        class: `nbtrack-lineage-edge nbtrack-lineage-edge-${edge.kind}`,
        d: 'M ' + points.map(p => `${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' L '),
        'marker-end': `url(#${this.id}-arrow)`,
        'data-source': edge.source,
        'data-target': edge.target
      });
      const tip = svg('title');
      tip.textContent = `${labels.get(edge.source) ?? ''} → ${EDGE_TEXT[edge.kind]} → ${labels.get(edge.target) ?? ''}`;
      path.append(tip);
      root.append(path);
    }
    for (const p of placed.nodes) {
      root.append(this._node(p, p.node.id === graph.root));
    }
    return root;
  }

  private _node(p: IPlaced, isRoot: boolean): SVGGElement {
    const n = p.node;
    const action = this._action(n);
    const cls = [
      'nbtrack-lineage-node',
      `nbtrack-lineage-${n.kind}`,
      isRoot ? 'nbtrack-lineage-root' : '',
      action ? 'nbtrack-lineage-clickable' : '',
      n.kind === 'run' && n.status ? `nbtrack-lineage-status-${n.status}` : ''
    ];
    const left = p.x - p.width / 2;
    const top = p.y - p.height / 2;
    const g = svg('g', {
      class: cls.filter(Boolean).join(' '),
      transform: `translate(${left.toFixed(1)} ${top.toFixed(1)})`,
      'data-id': n.id,
      'data-kind': n.kind
    });
    const tip = svg('title');
    tip.textContent = `${n.label}${action ? `\n${action.hint}` : ''}`;
    g.append(
      tip,
      svg('rect', { width: p.width, height: p.height, rx: n.kind === 'run' ? 4 : 14 }),
      svgText(cut(p.lines[0]), { x: 12, y: 17, class: 'nbtrack-lineage-title' }),
      svgText(cut(p.lines[1]), { x: 12, y: 33, class: 'nbtrack-lineage-sub' })
    );
    if (action) {
      g.setAttribute('tabindex', '0');
      g.setAttribute('role', 'button');
      g.setAttribute('aria-label', `${p.lines[0]}: ${action.hint}`);
      g.addEventListener('click', action.run);
      g.addEventListener('keydown', e => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          action.run();
        }
      });
    }
    return g;
  }

  /** What a click on a node does: open the run, or the version in the datasets view. */
  private _action(n: ILineageNode): { hint: string; run: () => void } | null {
    if (n.kind === 'run' && n.run_id && n.status !== 'deleted') {
      const id = n.run_id;
      return { hint: 'click to open the run', run: () => this._app.openRun(id) };
    }
    if (n.kind === 'version' && n.dataset !== undefined && n.version !== undefined) {
      const { dataset, version } = n;
      return {
        hint: 'click to open this version in the datasets view',
        run: () => this._app.openDatasetVersion(dataset, version)
      };
    }
    return null;
  }
}
