"""Paint a PaintGrid (labextension/src/paintgrid.ts) as Lumino does and with its merged canvas copies."""

from __future__ import annotations

# Two animation frames: the repaint paintOnce() schedules has run.
FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def paint_both_ways(page, grid: str) -> dict:
    """Repaint the grid the JavaScript expression ``grid`` names, first as Lumino paints (one canvas copy
    per cell), then merging the copies; returns ``found`` (paintgrid.ts found Lumino's private methods)
    and, for ``lumino`` and ``merged``, the canvases' pixels, the cells painted and the copies made."""
    return page.evaluate(
        f"""async () => {{
          const grid = {grid};
          const frames = {FRAMES};
          const paint = async merging => {{
            grid.merging = merging;
            const before = {{...grid.counts}};
            grid.paintOnce();
            await frames();
            return {{pixels: [...grid.node.querySelectorAll('canvas')].map(c => c.toDataURL()).join(),
                     cells: grid.counts.cells - before.cells, copies: grid.counts.copies - before.copies}};
          }};
          const lumino = await paint(false);
          const merged = await paint(true);
          return {{found: grid.mergesCopies, lumino, merged}};
        }}"""
    )
