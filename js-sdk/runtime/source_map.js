// Stack traces in source terms: the build appends the bundle's source map to the bundle, and a
// logged error's `bundle.js:LINE:COL` frames are turned back into the route's own file and line.
// The map is read only when an error is logged; until then it costs no time, only its size.

import { TraceMap, originalPositionFor } from '@jridgewell/trace-mapping';

let traced;

/** `stack` with every bundle position replaced by the source file, line and column. */
export function sourceStack(stack) {
  const map = globalThis[Symbol.for('routelet.sourceMap')];
  if (!map || typeof stack !== 'string') return stack;
  traced ??= new TraceMap(map);
  return stack.replace(/[^\s@()]*\.js:(\d+):(\d+)/g, (whole, line, column) => {
    const at = originalPositionFor(traced, { line: Number(line), column: Number(column) - 1 });
    return at.source ? `${at.source}:${at.line}:${at.column + 1}` : whole;
  });
}
