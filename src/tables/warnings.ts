/**
 * @module tables/warnings
 * Where table problems that must not stop the gateway go: a table file that changed into
 * something malformed (the old contents stay in service), a duplicate key. A module-level hook
 * because tables are opened deep inside other rooms; the gateway wires its logger in at start-up.
 * The default writes Postfix-style `warning:` lines to stderr.
 */

export type TableWarningHandler = (message: string) => void;

const toStderr: TableWarningHandler = (message) => { process.stderr.write(`mxguard: warning: ${message}\n`); };
let handler: TableWarningHandler = toStderr;

/** setTableWarningHandler - route table warnings; returns the previous handler. No argument restores stderr. */
export function setTableWarningHandler(next?: TableWarningHandler): TableWarningHandler {
  const prev = handler;
  handler = next ?? toStderr;
  return prev;
}

/** tableWarning - report one problem; a throwing handler must not break a lookup. */
export function tableWarning(message: string): void {
  try { handler(message); } catch { /* a broken logger is not the table's failure */ }
}
