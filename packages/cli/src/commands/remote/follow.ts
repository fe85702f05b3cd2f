/** Following one experiment to its end (`submit --wait`): a live view on stderr, then the outcome. */
import { type ArcalClient, type ExperimentDetail, type ExperimentStreamEvent, FINISHED_STATUSES } from '@arcal/client';
import { formatDuration, rateOf } from '../../progress.ts';
import { interrupted, printJson, type RemoteIo } from './shared.ts';

/**
 * Live view of an experiment on stderr: redrawn per member and job on a TTY, one line per change otherwise.
 * A member's time left is its epochs to go at its pace since the first epoch this view saw it finish (the
 * wait in the queue before that is no part of its pace).
 */
export class LiveView {
  private status = '';
  private readonly members = new Map<number, number>();
  private readonly jobs = new Map<string, { kind: string; state: string }>();
  private drawn = 0;
  private total = { members: 1, epochs: 0 };
  private readonly pace = new Map<number, { epoch: number; at: number }>();

  constructor(
    private readonly io: RemoteIo,
    private readonly tty: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** `m:ss` left for member `m` at `epoch`, or undefined before its pace is known. */
  private etaOf(m: number, epoch: number): string | undefined {
    const p = this.pace.get(m);
    if (!p) return undefined;
    const { etaSeconds } = rateOf(p.epoch, p.at, epoch, this.total.epochs, this.now());
    return etaSeconds === undefined ? undefined : formatDuration(etaSeconds);
  }

  event(ev: ExperimentStreamEvent): void {
    switch (ev.event) {
      case 'snapshot': {
        const e = ev.data.experiment;
        this.total = { members: Number(e.spec?.ensemble?.members ?? 1), epochs: Number(e.spec?.training?.epochs ?? 0) };
        for (const r of ev.data.epochs)
          if (r.member >= 0) this.members.set(r.member, Math.max(this.members.get(r.member) ?? 0, r.epoch));
        this.setStatus(e.status);
        break;
      }
      case 'status':
        this.setStatus(ev.data.status);
        break;
      case 'epoch': {
        if (typeof ev.data.member !== 'number' || ev.data.member < 0) break;
        const m = ev.data.member;
        this.members.set(m, Math.max(this.members.get(m) ?? 0, ev.data.epoch));
        if (!this.pace.has(m)) this.pace.set(m, { epoch: ev.data.epoch, at: this.now() });
        const eta = this.etaOf(m, ev.data.epoch);
        const r = ev.data.record ?? {};
        const bits = [
          typeof r.trainLoss === 'number' ? `loss ${r.trainLoss.toFixed(4)}` : '',
          typeof r.trainAccuracy === 'number' ? `acc ${r.trainAccuracy.toFixed(4)}` : '',
          typeof r.validation?.ece === 'number' ? `val ECE ${r.validation.ece.toFixed(4)}` : '',
          eta ? `ETA ${eta}` : '',
        ].filter(Boolean);
        this.plain(
          `member ${m} epoch ${ev.data.epoch}/${this.total.epochs}${bits.length ? `: ${bits.join(', ')}` : ''}`,
        );
        break;
      }
      case 'job': {
        const prior = this.jobs.get(ev.data.jobId);
        this.jobs.set(ev.data.jobId, { kind: ev.data.kind, state: ev.data.state });
        if (prior?.state !== ev.data.state) this.plain(`job ${ev.data.kind} ${ev.data.state}`);
        break;
      }
      case 'log':
        if (ev.data.level === 'error' || ev.data.level === 'warn') this.plain(`${ev.data.level}: ${ev.data.message}`);
        break;
      case 'report':
        this.plain('report stored');
        break;
      case 'end':
        this.setStatus(ev.data.status);
        break;
    }
    this.draw();
  }

  private setStatus(s: string) {
    if (s !== this.status) this.plain(`status ${s}`);
    this.status = s;
  }

  private plain(line: string) {
    if (!this.tty) this.io.stderr.write(`${line}\n`);
  }

  private draw() {
    if (!this.tty) return;
    const bar = (done: number, total: number) => {
      const w = 24;
      const f = total > 0 ? Math.round((Math.min(done, total) / total) * w) : 0;
      return `${'█'.repeat(f)}${'░'.repeat(w - f)} ${done}/${total}`;
    };
    const lines = [`status ${this.status}`];
    for (let m = 0; m < this.total.members; m++) {
      const done = this.members.get(m) ?? 0;
      lines.push(`  member ${m}  ${bar(done, this.total.epochs)}  ETA ${this.etaOf(m, done) ?? '—'}`);
    }
    const jobs = [...this.jobs.values()].filter((j) => j.state !== 'completed').slice(-8);
    for (const j of jobs) lines.push(`  job ${j.kind.padEnd(22)} ${j.state}`);
    const up = this.drawn ? `\x1b[${this.drawn}A\x1b[0J` : '';
    this.io.stderr.write(`${up}${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}

/** Streams the experiment's events (as JSON lines with --json) until it has finished; returns it then. */
export async function follow(
  client: ArcalClient,
  id: string,
  io: RemoteIo,
  asJson: boolean,
): Promise<ExperimentDetail> {
  const view = new LiveView(io, Boolean(io.stderr.isTTY) && !asJson);
  for await (const ev of client.events(id, { signal: io.signal })) {
    if (asJson) printJson(io, ev);
    else view.event(ev);
    if (ev.event === 'snapshot' && FINISHED_STATUSES.includes(ev.data.experiment.status)) break;
  }
  if (io.signal?.aborted) throw interrupted();
  return client.get(id);
}

/** The outcome on stdout (the error on stderr); exit 0 only when the experiment succeeded. */
export function finish(e: ExperimentDetail, io: RemoteIo, asJson: boolean): number {
  if (asJson) {
    const { report, ...rest } = e;
    printJson(io, { ...rest, final: report?.final ?? null });
  } else {
    io.stdout.write(`${e.id} ${e.status}\n`);
    if (e.report) {
      const f = e.report.final;
      io.stdout.write(
        `test accuracy ${f.accuracy.toFixed(4)}  ECE ${f.ece.toFixed(4)}  NLL ${f.nll.toFixed(4)}  Brier ${f.brier.toFixed(4)}\n`,
      );
    }
    if (e.error)
      io.stderr.write(`arcal: ${e.error.code ?? 'FAILED'}: ${e.error.message ?? 'the experiment did not succeed'}\n`);
  }
  return e.status === 'succeeded' ? 0 : 1;
}
