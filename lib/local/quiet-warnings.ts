/**
 * fauxqs keeps queues in `node:sqlite`, which prints "ExperimentalWarning: SQLite is an
 * experimental feature" on every thread that loads it. `--no-warnings=ExperimentalWarning` on
 * the command line covers the main thread only (a worker given its own execArgv does not
 * inherit it), and it would hide every other experimental feature too. This drops that one
 * warning and lets all others through.
 *
 * It must run before `node:sqlite` is loaded, and a static import of a built-in is loaded while
 * the module graph links, before any module body runs: import fauxqs dynamically after this.
 */
export function quietSqliteWarning(): void {
  if ((process.emitWarning as { sledsQuiet?: true }).sledsQuiet) return;
  const emit = process.emitWarning;
  const quiet = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]) {
    const [options] = rest;
    const type = warning instanceof Error ? warning.name : typeof options === 'string' ? options : (options as { type?: string } | undefined)?.type;
    if (type === 'ExperimentalWarning' && /\bSQLite\b/.test(String(warning instanceof Error ? warning.message : warning))) return;
    return (emit as (...args: unknown[]) => void).call(this, warning, ...rest);
  };
  process.emitWarning = Object.assign(quiet, { sledsQuiet: true as const }) as typeof process.emitWarning;
}
