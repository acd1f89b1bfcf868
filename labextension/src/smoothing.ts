/**
 * Step histories with smoothing, drawn as W&B and TensorBoard draw them: an exponential moving average
 * (weight 0 to 0.99) debiased at the start, the raw line kept faint behind the smoothed one, and the
 * hover saying both values. The weight and the log-y choice are remembered in the browser
 * (localStorage) and shared by every run and compare view; the workspace's Charts tab saves its own
 * with its chart (chartprefs.ts).
 */
import { Signal } from '@lumino/signaling';
import uPlot from 'uplot';

import { axisStyle, Chart, ILine, seriesColor } from './charts';
import { fmt, h } from './dom';

/** The heaviest smoothing offered (W&B's slider stops at 0.99 too: 1 would be a flat line). */
export const MAX_SMOOTHING = 0.99;
const SMOOTHING_KEY = 'nbtrack:smoothing';
const LOG_KEY = 'nbtrack:steps-log-y';

/** What a step chart is drawn with. */
export interface IStepChartSettings {
  /** the EMA weight, 0 (raw) to 0.99 */
  smoothing: number;
  /** a log y axis (values that are not positive leave a gap) */
  logY: boolean;
}

/** Emitted when the browser-wide step-chart settings change: open run and compare views redraw. */
export const stepSettingsChanged = new Signal<object, IStepChartSettings>({});

/** A weight clamped to [0, 0.99] (anything that is not a number is 0). */
export function clampSmoothing(w: unknown): number {
  const n = typeof w === 'number' ? w : Number(w);
  return Number.isFinite(n) ? Math.min(Math.max(n, 0), MAX_SMOOTHING) : 0;
}

/**
 * The debiased exponential moving average of ``values`` with ``weight`` (TensorBoard's and W&B's
 * "exponential moving average"): s = w·s + (1-w)·v, divided by 1 - w^n so the first points are not
 * pulled towards 0. Gaps (null, NaN, infinities) stay gaps and do not count.
 */
export function ema(values: Array<number | null>, weight: number): Array<number | null> {
  const w = clampSmoothing(weight);
  let last = 0;
  let norm = 0;
  return values.map(v => {
    if (v === null || !Number.isFinite(v)) {
      return null;
    }
    last = last * w + (1 - w) * v;
    norm = norm * w + (1 - w);
    return last / norm;
  });
}

function readStorage(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // storage full or disabled: the choice lasts for this page only
  }
}

/** The browser-wide step-chart settings (the last chosen in any view). */
export function loadStepSettings(): IStepChartSettings {
  const raw = readStorage(SMOOTHING_KEY);
  return {
    smoothing: raw === null ? 0 : clampSmoothing(raw),
    logY: readStorage(LOG_KEY) === 'true'
  };
}

/** Remember the settings for every view of this browser and tell the open views. */
export function saveStepSettings(s: IStepChartSettings): void {
  writeStorage(SMOOTHING_KEY, String(clampSmoothing(s.smoothing)));
  writeStorage(LOG_KEY, String(s.logY));
  stepSettingsChanged.emit({ ...s });
}

/** One line's raw and smoothed values on the chart's common steps. */
function alignedLine(
  line: ILine,
  x: number[],
  s: IStepChartSettings
): { raw: Array<number | null>; smooth: Array<number | null> } {
  const points = [...line.points].sort((a, b) => a[0] - b[0]);
  const values = points.map(([, v]) => (typeof v === 'number' && (!s.logY || v > 0) ? v : null));
  const smoothed = ema(values, s.smoothing);
  const raw = new Map<number, number | null>();
  const smooth = new Map<number, number | null>();
  points.forEach(([step], i) => {
    raw.set(step, values[i]);
    smooth.set(step, smoothed[i]);
  });
  return { raw: x.map(v => raw.get(v) ?? null), smooth: x.map(v => smooth.get(v) ?? null) };
}

/**
 * A step chart of one metric: one line per run; with smoothing, each run's raw line faint behind its
 * smoothed line, and the legend (the hover) saying "smoothed … · raw …".
 */
export function stepChart(title: string, lines: ILine[], s: IStepChartSettings): Chart {
  return new Chart(title, width => {
    const x = [...new Set(lines.flatMap(l => l.points.map(([step]) => step)))].sort(
      (a, b) => a - b
    );
    const smoothing = s.smoothing > 0;
    const data: Array<Array<number | null>> = [x];
    const series: uPlot.Series[] = [{ label: 'step' }];
    const dots = { show: x.length === 1 || x.length < 40, size: 5 };
    lines.forEach((line, i) => {
      const color = line.color ?? seriesColor(i);
      const { raw, smooth } = alignedLine(line, x, s);
      if (!smoothing) {
        data.push(raw);
        series.push({
          label: line.label,
          stroke: color,
          width: 2,
          spanGaps: true,
          points: dots,
          value: (_u, v) => (v === null ? '' : fmt(v))
        });
        return;
      }
      // The raw line first (drawn below), faint and out of the legend; the smoothed one on top.
      data.push(raw, smooth);
      series.push(
        {
          label: `${line.label} (raw)`,
          class: 'nbtrack-raw-series',
          stroke: color,
          alpha: 0.25,
          width: 1,
          spanGaps: true,
          points: { show: false }
        },
        {
          label: line.label,
          class: 'nbtrack-smoothed-series',
          stroke: color,
          width: 2,
          spanGaps: true,
          points: { show: false },
          value: (_u, v, _si, idx) =>
            v === null || idx === null || idx === undefined
              ? ''
              : `smoothed ${fmt(v)} · raw ${fmt(raw[idx])}`
        }
      );
    });
    return {
      data: data as uPlot.AlignedData,
      opts: {
        width,
        height: 220,
        scales: { x: { time: false }, y: s.logY ? { distr: 3, log: 10 } : {} },
        axes: [
          { ...axisStyle(), label: 'step' },
          { ...axisStyle(), size: 60 }
        ],
        legend: { show: true },
        series
      }
    };
  });
}

/** One chart per metric of a view: its title and lines. */
export interface IStepSeries {
  title: string;
  lines: ILine[];
}

/**
 * The smoothing slider (0 to 0.99, with its value as text) and the log y box; ``onChange`` gets the
 * new settings on every move.
 */
export function stepControls(
  s: IStepChartSettings,
  onChange: (s: IStepChartSettings) => void,
  withLog = true
): HTMLElement {
  const slider = h('input', {
    class: 'nbtrack-smoothing-slider',
    attrs: {
      type: 'range',
      min: '0',
      max: String(MAX_SMOOTHING),
      step: '0.01',
      'aria-label': 'Smoothing'
    }
  });
  slider.value = String(s.smoothing);
  const shown = h('output', { class: 'nbtrack-smoothing-value' }, s.smoothing.toFixed(2));
  const log = h('input', {
    class: 'nbtrack-steps-logy',
    attrs: { type: 'checkbox', 'aria-label': 'Log y axis' }
  });
  log.checked = s.logY;
  const changed = (): void => {
    const next = { smoothing: clampSmoothing(slider.valueAsNumber), logY: log.checked };
    shown.textContent = next.smoothing.toFixed(2);
    onChange(next);
  };
  slider.addEventListener('input', changed);
  log.addEventListener('change', changed);
  return h(
    'div',
    { class: 'nbtrack-row nbtrack-step-controls' },
    h(
      'label',
      {
        class: 'nbtrack-smoothing',
        title:
          'Exponential moving average of each line, debiased at the start (0 = raw values); the raw line stays faint behind'
      },
      'smoothing ',
      slider,
      ' ',
      shown
    ),
    withLog ? h('label', { class: 'nbtrack-steps-logy-label' }, log, ' log y') : null
  );
}

/**
 * The step charts of a run or compare view under one smoothing control. ``shared``: the settings are
 * the browser-wide ones (saved on change, and followed when another view changes them); otherwise
 * ``onChange`` keeps them (the Charts tab saves them with its chart, and has its own log y box:
 * ``withLog`` false leaves this one out).
 */
export class StepChartGrid {
  readonly node: HTMLDivElement;
  private _charts: Chart[] = [];
  private _grid: HTMLDivElement;
  private _controls: HTMLElement;
  private _pending = 0;

  constructor(
    private _series: IStepSeries[],
    private _settings: IStepChartSettings = loadStepSettings(),
    private _onChange: ((s: IStepChartSettings) => void) | null = null,
    withLog = true
  ) {
    this._grid = h('div', { class: 'nbtrack-charts' });
    this._controls = stepControls(this._settings, s => this._set(s), withLog);
    this.node = h('div', { class: 'nbtrack-step-charts' }, this._controls, this._grid);
    if (!this._onChange) {
      stepSettingsChanged.connect(this._follow);
    }
    this._draw();
  }

  get settings(): IStepChartSettings {
    return { ...this._settings };
  }

  dispose(): void {
    stepSettingsChanged.disconnect(this._follow);
    window.cancelAnimationFrame(this._pending);
    this._charts.forEach(c => c.dispose());
    this._charts = [];
  }

  private _set(s: IStepChartSettings): void {
    this._settings = s;
    if (this._onChange) {
      this._onChange(s);
      this._redraw();
    } else {
      saveStepSettings(s); // redraws this grid too, through _follow
    }
  }

  /** Another view (or this one) changed the browser-wide settings. */
  private readonly _follow = (_sender: object, s: IStepChartSettings): void => {
    this._settings = s;
    const slider = this._controls.querySelector<HTMLInputElement>('.nbtrack-smoothing-slider');
    const log = this._controls.querySelector<HTMLInputElement>('.nbtrack-steps-logy');
    const shown = this._controls.querySelector('.nbtrack-smoothing-value');
    if (slider && Math.abs(slider.valueAsNumber - s.smoothing) > 1e-9) {
      slider.value = String(s.smoothing);
    }
    if (log) {
      log.checked = s.logY;
    }
    if (shown) {
      shown.textContent = s.smoothing.toFixed(2);
    }
    this._redraw();
  };

  /** Redraw once per frame while the slider moves. */
  private _redraw(): void {
    window.cancelAnimationFrame(this._pending);
    this._pending = window.requestAnimationFrame(() => this._draw());
  }

  private _draw(): void {
    this._charts.forEach(c => c.dispose());
    this._charts = this._series.map(({ title, lines }) => stepChart(title, lines, this._settings));
    this._grid.replaceChildren(...this._charts.map(c => c.node));
    this.node.dataset.smoothing = String(this._settings.smoothing);
  }
}
