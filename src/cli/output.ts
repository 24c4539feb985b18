/** Prints one value: JSON on one line with --json, else the human form. */
export function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

/** Aligned `label  value` lines. */
export function fields(rows: Array<[string, string | undefined]>): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows
    .filter(([, value]) => value !== undefined)
    .map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)
    .join('\n');
}

/** A plain text table; columns sized to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/**
 * The CLI's one way out on error: one clear line on stderr (every field error is in it), exit code 1.
 * `JOBCTL_DEBUG=1` adds the stack.
 */
export function fail(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`jobctl: ${message}\n`);
  if (process.env.JOBCTL_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
