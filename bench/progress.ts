// A one-line progress bar on stderr (redrawn in place on a terminal, a line per layer otherwise),
// so that stdout stays clean for the table or --json.

export class Progress {
  private lastLine = '';
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    public total: number,
    private readonly enabled = true
  ) {}

  /** `done` whole steps finished plus `fraction` of the current one. */
  update(done: number, fraction: number, label: string, detail = ''): void {
    if (!this.enabled) return;
    const f = Math.min(1, (done + fraction) / Math.max(1, this.total));
    const width = 30,
      fill = Math.round(f * width);
    const line = `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${String(Math.round(f * 100)).padStart(3)}% ${label}`;
    // Off a terminal (CI logs) only a new label earns a line; the detail would flood the log.
    if (this.tty) {
      const full = detail ? `${line} ${detail}` : line;
      process.stderr.write(`\r${full.slice(0, (process.stderr.columns || 100) - 1).padEnd(this.lastLine.length)}`);
      this.lastLine = full;
    } else if (label !== this.lastLine) {
      process.stderr.write(`${line}\n`);
      this.lastLine = label;
    }
  }

  /** Prints a message above the bar without garbling it. */
  log(msg: string): void {
    this.clear();
    process.stderr.write(`${msg}\n`);
  }

  /** Erases the bar so that stdout can print a block; the next update redraws it. */
  clear(): void {
    if (this.tty && this.lastLine)
      process.stderr.write(`\r${' '.repeat(Math.min(this.lastLine.length, (process.stderr.columns || 100) - 1))}\r`);
    if (this.tty) this.lastLine = '';
  }

  done(): void {
    if (this.enabled && this.tty && this.lastLine) process.stderr.write('\n');
    this.lastLine = '';
  }
}
