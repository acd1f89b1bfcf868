/**
 * Charts drawn with uPlot (https://github.com/leeoniya/uPlot), coloured from the
 * JupyterLab theme's --jp-* variables and redrawn when the theme changes.
 */
import { Signal } from '@lumino/signaling';
import uPlot from 'uplot';

import { cssVar, fmt, h } from './dom';
import { runColor } from './runlook';
import { SeriesValue } from './tokens';

/** Emitted by the plugin when JupyterLab's theme changes; charts redraw. */
export const themeChanged = new Signal<object, void>({});

const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#bcbd22',
  '#17becf'
];

export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** Axis colours and font from the theme (shared by the step charts in smoothing.ts). */
export function axisStyle(): uPlot.Axis {
  const fg = cssVar('--jp-ui-font-color1', '#333');
  const grid = cssVar('--jp-border-color2', '#ddd');
  return {
    stroke: fg,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 },
    font: `11px ${cssVar('--jp-ui-font-family', 'sans-serif')}`
  };
}

/** A chart container that rebuilds its uPlot on theme changes and resizes. */
export class Chart {
  readonly node: HTMLDivElement;
  private _plot: uPlot | null = null;

  /** The current uPlot (rebuilt on theme changes), null before the first frame. */
  get plot(): uPlot | null {
    return this._plot;
  }
  private _observer: ResizeObserver;

  /**
   * ``minWidth``: the chart is at least this wide, and its node scrolls sideways when the space is
   * narrower (a parallel-coordinates plot keeps room for every axis label).
   */
  constructor(
    title: string,
    private _build: (width: number) => { opts: uPlot.Options; data: uPlot.AlignedData },
    private _minWidth = 0
  ) {
    this.node = h(
      'div',
      { class: _minWidth ? 'nbtrack-chart nbtrack-chart-wide' : 'nbtrack-chart' },
      title ? h('div', { class: 'nbtrack-chart-title' }, title) : null
    );
    this._observer = new ResizeObserver(() => this._resize());
    this._observer.observe(this.node);
    themeChanged.connect(this._render);
    requestAnimationFrame(() => this._render());
  }

  private _width(): number {
    return Math.max(this._minWidth, 240, Math.min(this.node.clientWidth || 480, 900));
  }

  /** An arrow function, so the theme signal can connect and disconnect it as it is. */
  private readonly _render = (): void => {
    this._plot?.destroy();
    const { opts, data } = this._build(this._width());
    this._plot = new uPlot(opts, data, this.node);
  };

  private _resize(): void {
    if (this._plot && Math.abs(this._plot.width - this._width()) > 8) {
      this._plot.setSize({ width: this._width(), height: this._plot.height });
    }
  }

  dispose(): void {
    themeChanged.disconnect(this._render);
    this._observer.disconnect();
    this._plot?.destroy();
  }
}

export interface ILine {
  label: string;
  /** the line's colour (a run's runColor); the palette's next colour when absent */
  color?: string;
  /** [step, value]; "inf" / "-inf" and null values leave a gap */
  points: Array<[number, SeriesValue]>;
}

export interface IAxis {
  label: string;
  /** one value per run */
  values: Array<number | string | boolean | null>;
}

/**
 * Parallel coordinates: one vertical axis per param/metric, one polyline per run.
 * Values are scaled to [0, 1] per axis; strings map to their sorted position.
 * The legend shows each run's raw value on the hovered axis.
 */
export function parallelCoordinates(
  title: string,
  runLabels: string[],
  axes: IAxis[],
  colors?: string[]
): Chart {
  const scaled: Array<Array<number | null>> = runLabels.map(() => []);
  const raw: string[][] = runLabels.map(() => []);
  const ranges: string[] = [];
  for (const axis of axes) {
    const nums = axis.values.filter((v): v is number => typeof v === 'number');
    const cats = [
      ...new Set(axis.values.filter(v => v !== null && typeof v !== 'number').map(String))
    ].sort();
    // Log-spaced numbers (all positive, spanning 100x or more) get a log axis.
    const log =
      nums.length > 1 && Math.min(...nums) > 0 && Math.max(...nums) / Math.min(...nums) >= 100;
    const t = (v: number): number => (log ? Math.log10(v) : v);
    const lo = Math.min(...nums.map(t));
    const hi = Math.max(...nums.map(t));
    ranges.push(
      nums.length
        ? `${fmt(Math.min(...nums))} – ${fmt(Math.max(...nums))}${log ? ' (log)' : ''}`
        : cats.length
          ? `${cats[0]} – ${cats[cats.length - 1]}`
          : ''
    );
    axis.values.forEach((v, r) => {
      raw[r].push(fmt(v));
      if (v === null) {
        scaled[r].push(null);
      } else if (typeof v === 'number') {
        scaled[r].push(hi > lo ? (t(v) - lo) / (hi - lo) : 0.5);
      } else {
        scaled[r].push(cats.length > 1 ? cats.indexOf(String(v)) / (cats.length - 1) : 0.5);
      }
    });
  }
  const labels = (u: uPlot): void => axisLabels(u, axes, ranges);
  return new Chart(
    title,
    width => {
      const x = axes.map((_a, i) => i);
      const ax = axisStyle();
      return {
        data: [x, ...scaled],
        opts: {
          width,
          height: 260,
          scales: {
            x: { time: false, range: [-0.5, axes.length - 0.5] },
            y: { range: [-0.05, 1.05] }
          },
          hooks: { ready: [labels], setSize: [labels] },
          axes: [
            {
              ...ax,
              splits: () => x,
              values: (_u, splits) => splits.map(() => ''), // the labels are text below (axisLabels)
              size: 40,
              grid: { ...ax.grid, width: 2 }
            },
            { ...ax, show: false }
          ],
          cursor: { drag: { x: false, y: false } },
          series: [
            {
              label: 'axis',
              value: (_u, v) => (v === null || v === undefined ? '' : (axes[v]?.label ?? ''))
            },
            ...runLabels.map((label, r) => ({
              label,
              stroke: colors?.[r] ?? seriesColor(r),
              width: 2,
              spanGaps: false,
              points: { show: true, size: 6 },
              value: (u: uPlot, _v: number | null, _si: number, idx: number | null) =>
                idx === null || idx === undefined ? '' : (raw[r][idx] ?? '')
            }))
          ]
        }
      };
    },
    axes.length * AXIS_WIDTH
  );
}

let measure: CanvasRenderingContext2D | null = null;

/**
 * ``text`` as drawn in an axis label, cut in the middle until it fits ``px`` pixels: names that differ at
 * the end (``..._00``, ``..._01``) stay apart, where an ellipsis at the end would make them look the same.
 */
function fitMiddle(text: string, px: number): string {
  measure ??= document.createElement('canvas').getContext('2d');
  if (!measure) {
    return text;
  }
  measure.font = `11px ${cssVar('--jp-ui-font-family', 'sans-serif')}`;
  const cut = (keep: number): string => {
    const head = Math.ceil(keep / 2);
    return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
  };
  if (measure.measureText(text).width <= px) {
    return text;
  }
  let keep = text.length - 1;
  while (keep > 2 && measure.measureText(cut(keep)).width > px) {
    keep -= 1;
  }
  return cut(keep);
}

/** Room each parallel-coordinates axis keeps for its label: the plot grows (and scrolls) past this. */
const AXIS_WIDTH = 110;

/**
 * Each axis's name and range as text centred under it, cut to its share of the width with an ellipsis
 * (the whole in its tooltip and in the legend when hovered), so labels never run into each other.
 */
function axisLabels(u: uPlot, axes: IAxis[], ranges: string[]): void {
  const wrap = u.root.querySelector<HTMLElement>('.u-wrap');
  if (!wrap) {
    return;
  }
  wrap.querySelector('.nbtrack-pc-labels')?.remove();
  const spacing = axes.length > 1 ? u.valToPos(1, 'x') - u.valToPos(0, 'x') : u.over.clientWidth;
  const box = h('div', { class: 'nbtrack-pc-labels' });
  axes.forEach((axis, i) => {
    const label = h(
      'div',
      { class: 'nbtrack-pc-label', title: `${axis.label}\n${ranges[i] ?? ''}` },
      h('span', { class: 'nbtrack-pc-name' }, fitMiddle(axis.label, Math.max(40, spacing - 8) - 4)),
      h('span', { class: 'nbtrack-pc-range' }, ranges[i] ?? '')
    );
    const width = Math.max(40, spacing - 8);
    label.style.width = `${width}px`;
    label.style.left = `${u.over.offsetLeft + u.valToPos(i, 'x') - width / 2}px`;
    label.style.top = `${u.over.offsetTop + u.over.offsetHeight + 4}px`;
    box.append(label);
  });
  wrap.append(box);
}

/** One run's value in a chart across runs. */
export interface IRunPoint {
  runId: string;
  label: string;
  x: number;
  y: number;
}

export interface IRunsChartOptions {
  /** bars: one bar per run in the given order; scatter: y against x */
  mode: 'bar' | 'scatter';
  xLabel: string;
  /** x holds epoch seconds */
  time?: boolean;
  logX?: boolean;
  logY?: boolean;
  onClick?: (runId: string) => void;
}

/** uPlot's bars path builder (typed optional: a build of uPlot may leave it out; ours has it). */
const barPaths: uPlot.Series.BarsPathBuilderFactory = opts => {
  const bars = uPlot.paths.bars;
  if (!bars) {
    throw new Error('this uPlot build has no bars path builder');
  }
  return bars(opts);
};

/** Runs up to which every run gets its own series (its colour, its legend entry). */
const PER_RUN_SERIES = 60;

/**
 * Bars too many to tell apart (more than one per two pixels: 100,000 runs on a 900-pixel chart) drawn as
 * what they cover: one column per pixel from the baseline to the lowest and highest bar in it, in the
 * series' colour - the picture every bar would make, without each run's colour, which no pixel could
 * show. uPlot filling 100,000 bars took 6.5-7.6 s in a software-rendered Chromium (10,000: 0.11 s); this
 * takes milliseconds. Fewer bars get uPlot's own bars in each run's colour.
 */
function denseBars(bars: uPlot.Series.PathBuilder, logY: boolean): uPlot.Series.PathBuilder {
  return (u, si, i0, i1) => {
    const width = Math.max(1, Math.round(u.bbox.width));
    if ((i1 - i0 + 1) * 2 <= width) {
      return bars(u, si, i0, i1);
    }
    const key = u.series[si].scale ?? 'y';
    const scale = u.scales[key];
    const min = scale.min ?? 0;
    const max = scale.max ?? 0;
    // Bars grow from 0 (kept inside the axis), on a log axis from its bottom.
    const base = u.valToPos(logY ? min : Math.min(Math.max(0, min), max), key, true);
    const lo = new Float64Array(width).fill(Infinity);
    const hi = new Float64Array(width).fill(-Infinity);
    const left = u.bbox.left;
    const xs = u.data[0];
    const ys = u.data[si];
    for (let i = i0; i <= i1; i++) {
      const y = ys[i];
      const col = Math.floor(u.valToPos(Number(xs[i]), 'x', true) - left);
      if (typeof y !== 'number' || col < 0 || col >= width) {
        continue;
      }
      const top = u.valToPos(y, key, true);
      lo[col] = Math.min(lo[col], top, base);
      hi[col] = Math.max(hi[col], top, base);
    }
    const fill = new Path2D();
    for (let c = 0; c < width; c++) {
      if (hi[c] >= lo[c]) {
        fill.rect(left + c, lo[c], 1, Math.max(1, hi[c] - lo[c]));
      }
    }
    return { fill, stroke: null, clip: null, flags: 0 };
  };
}

/**
 * A metric across runs: bars (one per run, coloured by run) or a scatter against a param or the
 * start time, with optional log axes. A click opens the run under the cursor.
 */
export function runsChart(title: string, points: IRunPoint[], o: IRunsChartOptions): Chart {
  const order = o.mode === 'bar' ? points : [...points].sort((a, b) => a.x - b.x);
  const xs = order.map((p, i) => (o.mode === 'bar' ? i : p.x));
  const perRun = order.length <= PER_RUN_SERIES;
  let colors: string[] | null = null; // 100,000 runs' colours only when drawn
  const colorOf = (): string[] => (colors ??= order.map(p => runColor(p.runId)));
  const chart = new Chart(title, width => {
    const ax = axisStyle();
    const yScale: uPlot.Scale = o.logY ? { distr: 3, log: 10 } : {};
    const xScale: uPlot.Scale =
      o.mode === 'bar'
        ? { time: false, range: [-0.6, Math.max(order.length - 0.4, 0.6)] }
        : { time: !!o.time, ...(o.logX ? { distr: 3, log: 10 } : {}) };
    let series: uPlot.Series[];
    let data: uPlot.AlignedData;
    if (o.mode === 'bar') {
      series = [
        {},
        {
          label: title,
          stroke: cssVar('--jp-border-color1', '#888'),
          fill: cssVar('--jp-brand-color1', '#1976d2'),
          paths: denseBars(
            barPaths({
              size: [0.7, 60],
              disp: { fill: { unit: 3, values: colorOf } }
            }),
            !!o.logY
          ),
          points: { show: false },
          value: (_u, v) => (v === null ? '' : fmt(v))
        }
      ];
      data = [xs, order.map(p => p.y)];
    } else if (perRun) {
      series = [
        {},
        ...order.map((p, i) => ({
          label: p.label,
          stroke: colorOf()[i],
          fill: colorOf()[i],
          paths: () => null,
          points: { show: true, size: 9, fill: colorOf()[i], stroke: colorOf()[i] },
          value: (_u: uPlot, v: number | null) => (v === null ? '' : fmt(v))
        }))
      ];
      data = [xs, ...order.map((p, i) => order.map((_q, j) => (j === i ? p.y : null)))];
    } else {
      const c = cssVar('--jp-brand-color1', '#1976d2');
      series = [
        {},
        {
          label: title,
          stroke: c,
          paths: () => null,
          points: { show: true, size: 5, fill: c, stroke: c }
        }
      ];
      data = [xs, order.map(p => p.y)];
    }
    return {
      data,
      opts: {
        width,
        height: 320,
        scales: { x: xScale, y: yScale },
        legend: { show: o.mode !== 'bar' && perRun },
        axes: [
          o.mode === 'bar'
            ? {
                ...ax,
                label: o.xLabel,
                splits: () => (order.length <= 40 ? xs : []),
                values: (_u, splits) => splits.map(i => truncate(order[i]?.label ?? '', 14)),
                rotate: order.length > 8 ? -35 : 0,
                size: order.length > 8 ? 70 : 40
              }
            : { ...ax, label: o.xLabel },
          { ...ax, label: title, size: 60 }
        ],
        series
      }
    };
  });
  if (o.onClick) {
    const open = o.onClick;
    chart.node.addEventListener('click', () => {
      const u = chart.plot;
      const idx = u?.cursor.idx;
      if (u && idx !== null && idx !== undefined && order[idx]) {
        open(order[idx].runId);
      }
    });
  }
  chart.node.dataset.points = String(order.length);
  return chart;
}

function truncate(text: string, n: number): string {
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}
