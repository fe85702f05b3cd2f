/**
 * Progress output: a redrawn bar on a TTY, plain throttled lines otherwise (logs, CI, pipes).
 */
export class Progress {
  private lastLine = 0;
  private drawn = false;
  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly tty = Boolean(process.stderr.isTTY),
  ) {}

  /** Shows `label` at done/total; on a TTY as a bar, otherwise at most one line per 5 s and at completion. */
  update(label: string, done: number, total: number): void {
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    if (this.tty) {
      const width = 28;
      const fill = Math.round(frac * width);
      const bar = `${'█'.repeat(fill)}${'░'.repeat(width - fill)}`;
      this.stream.write(`\r\x1b[2K${label} ${bar} ${done}/${total}`);
      this.drawn = true;
      return;
    }
    const now = Date.now();
    if (done === total || now - this.lastLine > 5000) {
      this.lastLine = now;
      this.stream.write(`${label}: ${done}/${total} (${(frac * 100).toFixed(0)}%)\n`);
    }
  }

  /** Prints a line, clearing the bar first. */
  line(text: string): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[2K');
      this.drawn = false;
    }
    this.stream.write(`${text}\n`);
  }
}
