/**
 * A Lumino DataGrid that paints a screen of cells in a few canvas copies instead of one per cell, and
 * that can apply a burst of changes (new rows, column widths, selection) with a single repaint.
 *
 * Why (docs/workspace.md, "Measured on 100,000 runs"): Lumino draws each cell into an off-screen buffer
 * as large as the grid and copies that one cell to the screen canvas with `drawImage`. In a
 * software-rendered Chromium (headless, or no GPU) every such copy snapshots the whole buffer: a
 * 1440x900 workspace spent 1.3 ms a cell, about 0.6 s a screen, and a reload repainted several times
 * (once for the rows, once per resized column). Here the copies of one region's cells (the body, the
 * column headers, the row headers) are merged into one copy of their rectangle, made when the region is
 * drawn: the same pixels, since the cells tile the rectangle, each is cleared and drawn in the buffer
 * before the copy, and Lumino's text renderer keeps text inside its cell (elided, clipped when taller).
 * A screen costs four copies.
 *
 * The merge reaches into two private methods of Lumino's DataGrid (`_blitContent`, `_drawCells`, in
 * @lumino/datagrid 2.x); where they are missing (another Lumino version) the grid paints as Lumino
 * does, only slower, and `mergesCopies` says so (the browser tests check it is true).
 */
import { DataGrid } from '@lumino/datagrid';
import { MessageLoop } from '@lumino/messaging';

type Blit = (
  source: HTMLCanvasElement,
  x: number,
  y: number,
  w: number,
  h: number,
  dx: number,
  dy: number
) => void;

/** The private parts of Lumino's DataGrid this class wraps. */
interface ILuminoGridPrivates {
  _blitContent?: Blit;
  _drawCells?: (region: unknown) => void;
  _buffer?: HTMLCanvasElement;
}

export class PaintGrid extends DataGrid {
  /** True when cell copies can be merged (Lumino's private methods were found). */
  readonly mergesCopies: boolean;
  /** Merge cell copies (when possible); false paints exactly as Lumino does (a test compares both). */
  merging = true;
  /** Cells Lumino copied to the screen, `drawImage` copies made, paints (for tests and profiling). */
  readonly counts = { cells: 0, copies: 0, paints: 0 };
  private _held = false;
  private _pending: { x: number; y: number; w: number; h: number } | null = null;
  private _blit: Blit | null = null;

  constructor(options: DataGrid.IOptions) {
    super(options);
    const grid = this as unknown as ILuminoGridPrivates;
    const { _blitContent: blit, _drawCells: drawCells, _buffer: buffer } = grid;
    if (!blit || !drawCells || !buffer) {
      this.mergesCopies = false;
      return;
    }
    this.mergesCopies = true;
    this._blit = blit.bind(this);
    grid._blitContent = this._copy;
    grid._drawCells = region => {
      drawCells.call(this, region);
      this._flushCopy();
    };
  }

  /**
   * Apply what is queued for the grid (a model reset, column resizes, selection changes) at once
   * without painting, then schedule one full repaint.
   */
  paintOnce(): void {
    this._held = true;
    try {
      MessageLoop.flush();
    } finally {
      this._held = false;
    }
    this.repaintContent();
  }

  protected paintContent(rx: number, ry: number, rw: number, rh: number): void {
    if (this._held) {
      return;
    }
    this.counts.paints++;
    super.paintContent(rx, ry, rw, rh);
    this._flushCopy();
  }

  /** Lumino's copy of a cell from the buffer (merged), or of the canvas onto itself (a scroll). */
  private readonly _copy: Blit = (source, x, y, w, h, dx, dy) => {
    const buffer = (this as unknown as ILuminoGridPrivates)._buffer;
    const cell = source === buffer && x === dx && y === dy;
    this.counts.cells += cell ? 1 : 0;
    if (cell && this.merging) {
      // A cell of the region being drawn: grow the rectangle copied once the region is drawn.
      const p = this._pending;
      if (!p) {
        this._pending = { x, y, w, h };
      } else {
        const right = Math.max(p.x + p.w, x + w);
        const bottom = Math.max(p.y + p.h, y + h);
        p.x = Math.min(p.x, x);
        p.y = Math.min(p.y, y);
        p.w = right - p.x;
        p.h = bottom - p.y;
      }
      return;
    }
    this._flushCopy();
    if (!this._held) {
      // A cell when not merging, or the canvas copied onto itself (a scroll, a resized column); while
      // held, nothing: the full repaint follows.
      this.counts.copies++;
      this._blit?.(source, x, y, w, h, dx, dy);
    }
  };

  private _flushCopy(): void {
    const p = this._pending;
    if (!p) {
      return;
    }
    this._pending = null;
    this.counts.copies++;
    const buffer = (this as unknown as ILuminoGridPrivates)._buffer;
    if (buffer) {
      this._blit?.(buffer, p.x, p.y, p.w, p.h, p.x, p.y);
    }
  }
}
