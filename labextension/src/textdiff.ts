/**
 * A line diff for the compare view's code diff: the longest common subsequence of two texts' lines,
 * as a list of kept, removed and added lines. Quadratic, so it refuses texts over MAX_LINES lines.
 */

export type DiffOp = ' ' | '-' | '+';
export type DiffLine = [DiffOp, string];

export const MAX_LINES = 3000;

/** The lines of `a` and `b` as kept (' '), removed from a ('-') and added in b ('+'); null if too long. */
export function lineDiff(a: string, b: string): DiffLine[] | null {
  const x = a.split('\n');
  const y = b.split('\n');
  if (x.length > MAX_LINES || y.length > MAX_LINES) {
    return null;
  }
  const n = x.length;
  const m = y.length;
  // lcs[i][j] = LCS length of x[i..] and y[j..], in one flat array
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] =
        x[i] === y[j]
          ? lcs[(i + 1) * (m + 1) + j + 1] + 1
          : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push([' ', x[i++]]);
      j++;
    } else if (lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
      out.push(['-', x[i++]]);
    } else {
      out.push(['+', y[j++]]);
    }
  }
  while (i < n) {
    out.push(['-', x[i++]]);
  }
  while (j < m) {
    out.push(['+', y[j++]]);
  }
  return out;
}
