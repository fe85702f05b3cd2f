/**
 * Progress output: a redrawn bar with rate and time left on a TTY, plain throttled lines otherwise (logs, CI,
 * pipes). A series (one label counting up to its total) starts at its first update and starts again when the
 * count goes back down (the next epoch's batches), so the rate is that of the work being shown.
 */

export interface Rate {
  /** Items per second since the series started; undefined before any time has passed. */
  perSecond?: number;
  /** Seconds until `total` at that rate; undefined without a rate, 0 when done. */
  etaSeconds?: number;
}

/** The average rate from (`startDone` at `startMs`) to (`done` at `nowMs`), and the time left to `total` at it. */
export function rateOf(startDone: number, startMs: number, done: number, total: number, nowMs: number): Rate {
  if (done >= total)
    return { perSecond: nowMs > startMs ? (done - startDone) / ((nowMs - startMs) / 1000) : undefined, etaSeconds: 0 };
  const seconds = (nowMs - startMs) / 1000;
  if (!(seconds > 0) || done <= startDone) return {};
  const perSecond = (done - startDone) / seconds;
  return { perSecond, etaSeconds: (total - done) / perSecond };
}

/** `12.3/s` (three significant digits at most), or `—` without a rate. */
export function formatRate(perSecond: number | undefined): string {
  if (perSecond === undefined || !Number.isFinite(perSecond)) return '—/s';
  if (perSecond >= 100) return `${Math.round(perSecond)}/s`;
  if (perSecond >= 10) return `${perSecond.toFixed(1)}/s`;
  return `${perSecond.toFixed(2)}/s`;
}

/** `m:ss` under an hour, `h:mm:ss` above, `—` when unknown; rounded up so that 0:00 means done. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.ceil(Math.max(0, seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

interface Series {
  label: string;
  startDone: number;
  startMs: number;
  lastDone: number;
}

export interface ProgressOptions {
  stream?: { write(s: string): unknown };
  tty?: boolean;
  /** Milliseconds since any fixed origin (default Date.now); tests pass a fake clock. */
  now?: () => number;
  /** Off a TTY, at most one line per this many ms (and always the last) [5000]. */
  plainEveryMs?: number;
}

export class Progress {
  private readonly stream: { write(s: string): unknown };
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly plainEveryMs: number;
  private lastLine = Number.NEGATIVE_INFINITY;
  private drawn = false;
  private series: Series | undefined;

  constructor(opts: ProgressOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? Boolean(process.stderr.isTTY);
    this.now = opts.now ?? Date.now;
    this.plainEveryMs = opts.plainEveryMs ?? 5000;
  }

  /** Shows `label` at done/total: on a TTY as a bar, otherwise as a line at most every few seconds and at the end. */
  update(label: string, done: number, total: number): void {
    const now = this.now();
    const s = this.series;
    if (!s || s.label !== label || done < s.lastDone)
      this.series = { label, startDone: done, startMs: now, lastDone: done };
    else s.lastDone = done;
    const { startDone, startMs } = this.series!;
    const r = rateOf(startDone, startMs, done, total, now);
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const tail = `${formatRate(r.perSecond)}, ETA ${formatDuration(r.etaSeconds)}`;
    if (this.tty) {
      const width = 28;
      const fill = Math.round(frac * width);
      this.stream.write(`\r\x1b[2K${label} ${'█'.repeat(fill)}${'░'.repeat(width - fill)} ${done}/${total} ${tail}`);
      this.drawn = true;
      return;
    }
    if (done === total || now - this.lastLine >= this.plainEveryMs) {
      this.lastLine = now;
      this.stream.write(`${label}: ${done}/${total} (${(frac * 100).toFixed(0)}%), ${tail}\n`);
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
