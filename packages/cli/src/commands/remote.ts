/**
 * `arcal submit|status|logs|cancel|retry|report|list`, `arcal study <file> --remote` and `arcal studies`
 * (`studies cancel|delete <id>` too): the service from the command line, through
 * @arcal/client against ARCAL_URL with ARCAL_API_KEY. Progress goes to stderr (redrawn per job on a TTY,
 * plain lines otherwise), results to stdout; `--json` prints machine-readable results only.
 * Exit codes: 0 ok, 1 failure (the API's error, or an experiment that did not succeed), 2 invalid input
 * or spec (one line per problem).
 */

import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import {
  ApiError,
  ArcalClient,
  type ExperimentDetail,
  type ExperimentStatus,
  type ExperimentStreamEvent,
  type ExperimentView,
  FINISHED_STATUSES,
  isApiError,
  progressOf,
  type StudyDetail,
  type StudyView,
} from '@arcal/client';
import { ArcalError, formatProblem, isArcalError, studyProblems, validateSpec } from '@arcal/contracts';
import { type ParsedArgs, parseArgs, str } from '../args.ts';

export const REMOTE_COMMANDS = [
  'submit',
  'status',
  'logs',
  'cancel',
  'retry',
  'report',
  'list',
  'study',
  'studies',
] as const;
export type RemoteCommand = (typeof REMOTE_COMMANDS)[number];

export interface RemoteIo {
  env: Record<string, string | undefined>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean };
  signal?: AbortSignal;
  /** For tests: a fetch other than the global one. */
  fetch?: typeof fetch;
  /** How often `--wait` re-reads a study, ms (default 5000). */
  pollMs?: number;
}

const OPTIONS: Record<RemoteCommand, { boolean?: string[]; string?: string[] }> = {
  submit: { boolean: ['wait', 'json'], string: ['idempotency-key'] },
  status: { boolean: ['json'] },
  logs: { boolean: ['follow', 'json'] },
  cancel: { boolean: ['json'] },
  retry: { boolean: ['json'] },
  report: { boolean: [], string: ['format', 'figures', 'out'] },
  list: { boolean: ['json'], string: ['status', 'limit'] },
  study: { boolean: ['remote', 'wait', 'json'], string: ['idempotency-key'] },
  studies: { boolean: ['wait', 'json'], string: ['limit'] },
};

const USAGE: Record<RemoteCommand, string> = {
  submit: 'arcal submit <spec.json> [--wait] [--idempotency-key k] [--json]',
  status: 'arcal status <id> [--json]',
  logs: 'arcal logs <id> [--follow] [--json]',
  cancel: 'arcal cancel <id> [--json]',
  retry: 'arcal retry <id> [--json]',
  report: 'arcal report <id> [--format md|json] [--figures dir] [--out file]',
  list: 'arcal list [--status s] [--limit n] [--json]',
  study: 'arcal study <study.json> --remote [--wait] [--idempotency-key k] [--json]',
  studies: 'arcal studies [<id>] [--wait] [--limit n] [--json] | arcal studies cancel|delete <id> [--json]',
};

const INVALID = new Set(['INVALID_SPEC', 'INVALID_INPUT', 'NOT_IMPLEMENTED']);

/** Runs one remote command; never throws for API or input errors (they become lines and exit codes). */
export async function remoteCommand(cmd: RemoteCommand, argv: string[], io: RemoteIo): Promise<number> {
  try {
    const a = parseArgs(argv, OPTIONS[cmd]);
    const client = ArcalClient.fromEnv(io.env, io.fetch ? { fetch: io.fetch } : {});
    return await COMMANDS[cmd](a, client, io);
  } catch (e) {
    if ((e as Error)?.name === 'AbortError' || io.signal?.aborted) {
      io.stderr.write('arcal: interrupted (the experiment keeps running on the service)\n');
      return 130;
    }
    if (isApiError(e)) {
      if (INVALID.has(e.code) && e.details.length) {
        for (const d of e.details) io.stderr.write(`${formatProblem(d)}\n`);
        return 2;
      }
      io.stderr.write(`arcal: ${e.describe()}\n`);
      if (e.code === 'BUDGET_EXCEEDED' && e.body.estimate)
        io.stderr.write(`estimate: ${JSON.stringify(e.body.estimate)}\n`);
      return INVALID.has(e.code) || (e.code === 'UNAUTHORIZED' && e.status === 0) ? 2 : 1;
    }
    if (isArcalError(e)) {
      if (e.details.length) for (const d of e.details) io.stderr.write(`${formatProblem(d)}\n`);
      else io.stderr.write(`arcal: ${e.message}\n`);
      return INVALID.has(e.code) ? 2 : 1;
    }
    throw e;
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ArcalError(
      code ? 'INVALID_INPUT' : 'INVALID_SPEC',
      `${file}: ${code === 'ENOENT' ? 'no such file' : code ? (e as Error).message : `not valid JSON (${(e as Error).message})`}`,
    );
  }
}

function idArg(a: ParsedArgs, cmd: RemoteCommand): string {
  const id = a.positionals[0];
  if (!id || a.positionals.length > 1) throw new ArcalError('INVALID_INPUT', `usage: ${USAGE[cmd]}`);
  return id;
}

const json = (io: RemoteIo, v: unknown) => io.stdout.write(`${JSON.stringify(v)}\n`);

type Handler = (a: ParsedArgs, client: ArcalClient, io: RemoteIo) => Promise<number>;

const COMMANDS: Record<RemoteCommand, Handler> = {
  async submit(a, client, io) {
    const file = a.positionals[0];
    if (!file || a.positionals.length > 1) throw new ArcalError('INVALID_INPUT', `usage: ${USAGE.submit}`);
    const raw = readJson(file);
    // The same rules the service applies, checked here first so problems show without a round trip.
    const v = validateSpec(raw);
    if (!v.ok) throw new ArcalError('INVALID_SPEC', `${file}: ${v.problems.length} problem(s)`, v.problems);
    const key = str(a, 'idempotency-key');
    const s = await client.submit(raw, key ? { idempotencyKey: key } : {});
    if (!a.flags.wait) {
      if (a.flags.json) json(io, s);
      else io.stdout.write(`${s.id} ${s.status} (estimated ${Math.round(s.estimate.seconds)} CPU-seconds)\n`);
      return 0;
    }
    if (!a.flags.json) io.stderr.write(`submitted ${s.id}\n`);
    const final = await follow(client, s.id, io, Boolean(a.flags.json));
    return finish(final, io, Boolean(a.flags.json));
  },

  async status(a, client, io) {
    const id = idArg(a, 'status');
    const e = await client.get(id);
    const p = progressOf(e, (await client.metrics(id)).epochs);
    if (a.flags.json) {
      const { report, ...rest } = e;
      json(io, { ...rest, progress: p, final: report?.final ?? null });
      return 0;
    }
    const lines = [
      `${e.name}  ${e.id}`,
      `status    ${e.status} (attempt ${e.attempt})`,
      `method    ${e.spec?.method?.kind ?? '?'} on ${e.spec?.dataset?.name ?? '?'} (${e.spec?.model?.arch ?? '?'}, ${e.spec?.ensemble?.members ?? 1} member(s))`,
      `progress  ${p.done}/${p.total} epochs (${Math.round(p.fraction * 100)}%)`,
      `created   ${e.createdAt}${e.startedAt ? `, started ${e.startedAt}` : ''}${e.finishedAt ? `, finished ${e.finishedAt}` : ''}`,
    ];
    if (e.error) lines.push(`error     ${e.error.code ?? ''} ${e.error.message ?? ''}`.trimEnd());
    if (e.report) {
      const f = e.report.final;
      lines.push(
        `test      accuracy ${f.accuracy.toFixed(4)}  ECE ${f.ece.toFixed(4)}  NLL ${f.nll.toFixed(4)}  Brier ${f.brier.toFixed(4)}`,
      );
    }
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },

  async logs(a, client, io) {
    const id = idArg(a, 'logs');
    const asJson = Boolean(a.flags.json);
    const print = (l: { id: string; at: string; level: string; message: string }) =>
      asJson ? json(io, l) : io.stdout.write(`${l.at} ${l.level.padEnd(5)} ${l.message}\n`);
    if (!a.flags.follow) {
      let after: string | undefined;
      do {
        const page = await client.logs(id, { after, limit: 1000 });
        for (const l of page.items) print(l);
        after = page.next ?? undefined;
      } while (after);
      return 0;
    }
    // Subscribe first (the stream buffers what arrives meanwhile), then print the stored lines, then the
    // live ones newer than the last stored: none is lost or doubled.
    let last = 0n;
    let status: ExperimentStatus | undefined;
    const stream = client.events(id, { signal: io.signal });
    const first = await stream.next();
    if (first.done) return 0;
    const drain = async () => {
      for (;;) {
        const page = await client.logs(id, { after: last ? String(last) : undefined, limit: 1000 });
        for (const l of page.items) {
          print(l);
          last = BigInt(l.id);
        }
        if (!page.next) break;
      }
    };
    await drain();
    const handle = (ev: ExperimentStreamEvent) => {
      if (ev.event === 'log' && BigInt(ev.data.id) > last) {
        print({ id: ev.data.id, at: ev.data.at, level: ev.data.level, message: ev.data.message });
        last = BigInt(ev.data.id);
      } else if (ev.event === 'snapshot') status = ev.data.experiment.status;
      else if (ev.event === 'end') status = ev.data.status;
    };
    handle(first.value);
    for await (const ev of stream) handle(ev);
    // Lines written just before the end may have been published after the stream closed.
    await drain();
    if (!asJson && status) io.stderr.write(`experiment ${status}\n`);
    return status && status !== 'succeeded' && FINISHED_STATUSES.includes(status) ? 1 : 0;
  },

  async cancel(a, client, io) {
    const e = await client.cancel(idArg(a, 'cancel'));
    if (a.flags.json) json(io, e);
    else io.stdout.write(`${e.id} ${e.status}\n`);
    return 0;
  },

  async retry(a, client, io) {
    const e = await client.retry(idArg(a, 'retry'));
    if (a.flags.json) json(io, e);
    else io.stdout.write(`${e.id} ${e.status} (attempt ${e.attempt})\n`);
    return 0;
  },

  async report(a, client, io) {
    const id = idArg(a, 'report');
    const format = str(a, 'format') ?? 'md';
    if (format !== 'md' && format !== 'json')
      throw new ArcalError('INVALID_INPUT', `--format must be md or json, got "${format}"`);
    const e = await client.get(id);
    if (!e.report) {
      io.stderr.write(
        `arcal: experiment ${id} is ${e.status}; it has no report${FINISHED_STATUSES.includes(e.status) ? '' : ' yet'}\n`,
      );
      return 1;
    }
    const out = str(a, 'out');
    const figuresDir = str(a, 'figures');
    let figures: Array<{ name: string; title: string; svg: string; png?: string }> = [];
    if (figuresDir) figures = await writeFigures(e, figuresDir, out ? dirname(out) : '.');
    const text = format === 'json' ? `${JSON.stringify(e.report, null, 2)}\n` : reportMarkdown(e, figures);
    if (out) {
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, text);
      io.stderr.write(`wrote ${out}${figures.length ? ` and ${figures.length} figure(s) in ${figuresDir}` : ''}\n`);
    } else {
      io.stdout.write(text);
      if (figures.length) io.stderr.write(`wrote ${figures.length} figure(s) in ${figuresDir}\n`);
    }
    return 0;
  },

  async list(a, client, io) {
    const status = str(a, 'status') as ExperimentStatus | undefined;
    const limitText = str(a, 'limit');
    const limit = limitText === undefined ? 50 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1)
      throw new ArcalError('INVALID_INPUT', `--limit must be a positive integer, got "${limitText}"`);
    const items = await client.listAll({ status, max: limit });
    if (a.flags.json) {
      json(io, items);
      return 0;
    }
    const rows = items.map((e) => [
      e.id,
      e.status,
      String(e.spec?.method?.kind ?? '?'),
      String(e.spec?.dataset?.name ?? '?'),
      e.createdAt.slice(0, 19).replace('T', ' '),
      e.name,
    ]);
    io.stdout.write(table(['id', 'status', 'method', 'dataset', 'created (UTC)', 'name'], rows));
    return 0;
  },

  async study(a, client, io) {
    const file = a.positionals[0];
    if (!a.flags.remote || !file || a.positionals.length > 1)
      throw new ArcalError('INVALID_INPUT', `usage: ${USAGE.study}`);
    const raw = readJson(file);
    // The document's own rules are checked here first; the expanded experiments are checked by the service,
    // which names each problem by its path in the study (base.…, vary.<path>.<index>).
    const problems = studyProblems(raw);
    if (problems.length) throw new ArcalError('INVALID_SPEC', `${file}: ${problems.length} problem(s)`, problems);
    const key = str(a, 'idempotency-key');
    const s = await client.submitStudy(raw, key ? { idempotencyKey: key } : {});
    if (!a.flags.wait) {
      if (a.flags.json) json(io, s);
      else
        io.stdout.write(
          `${s.id} ${s.status}: ${s.experiments.length} experiments (estimated ${Math.round(s.estimate.seconds)} CPU-seconds in all)\n`,
        );
      return 0;
    }
    if (!a.flags.json) io.stderr.write(`submitted study ${s.id}: ${s.experiments.length} experiments\n`);
    return finishStudy(await followStudy(client, s.id, io, Boolean(a.flags.json)), io, Boolean(a.flags.json));
  },

  async studies(a, client, io) {
    const action = a.positionals[0];
    if (action === 'cancel' || action === 'delete') {
      const target = a.positionals[1];
      if (!target || a.positionals.length > 2) throw new ArcalError('INVALID_INPUT', `usage: ${USAGE.studies}`);
      if (action === 'delete') {
        await client.deleteStudy(target);
        if (a.flags.json) json(io, { id: target, deleted: true });
        else io.stdout.write(`${target} deleted\n`);
        return 0;
      }
      const s = await client.cancelStudy(target);
      const c = s.counts;
      if (a.flags.json) json(io, s);
      else
        io.stdout.write(
          `${s.id} ${s.status}: ${finishedCount(s)}/${c.total} finished (${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled)\n`,
        );
      return 0;
    }
    if (a.positionals.length > 1) throw new ArcalError('INVALID_INPUT', `usage: ${USAGE.studies}`);
    const id = a.positionals[0];
    if (id) {
      const asJson = Boolean(a.flags.json);
      const s = a.flags.wait ? await followStudy(client, id, io, asJson) : await client.getStudy(id);
      if (a.flags.wait) return finishStudy(s, io, asJson);
      if (asJson) json(io, s);
      else io.stdout.write(studyText(s));
      return 0;
    }
    const limitText = str(a, 'limit');
    const limit = limitText === undefined ? 50 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1)
      throw new ArcalError('INVALID_INPUT', `--limit must be a positive integer, got "${limitText}"`);
    const items = await client.listAllStudies({ max: limit });
    if (a.flags.json) {
      json(io, items);
      return 0;
    }
    io.stdout.write(
      table(
        ['id', 'status', 'finished', 'varied', 'created (UTC)', 'name'],
        items.map((s) => [
          s.id,
          s.status,
          `${finishedCount(s)}/${s.counts.total}`,
          s.varied.join(', ') || '—',
          s.createdAt.slice(0, 19).replace('T', ' '),
          s.name,
        ]),
      ),
    );
    return 0;
  },
};

// ---------------------------------------------------------------- studies

const finishedCount = (s: Pick<StudyView, 'counts'>) => s.counts.succeeded + s.counts.failed + s.counts.cancelled;

const studyLine = (s: StudyView) => {
  const c = s.counts;
  return `study ${s.status}: ${finishedCount(s)}/${c.total} finished (${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.running} running)`;
};

/** Re-reads the study until every experiment has finished; a line on stderr per change (JSON lines with --json). */
async function followStudy(client: ArcalClient, id: string, io: RemoteIo, asJson: boolean): Promise<StudyDetail> {
  let last = '';
  const s = await client.waitForStudy(id, {
    intervalMs: io.pollMs ?? 5000,
    signal: io.signal,
    onUpdate: (u) => {
      const line = studyLine(u);
      if (line === last) return;
      last = line;
      if (asJson) json(io, { id: u.id, status: u.status, counts: u.counts });
      else io.stderr.write(`${line}\n`);
    },
  });
  if (io.signal?.aborted) throw Object.assign(new Error('interrupted'), { name: 'AbortError' });
  return s;
}

/** Status, experiments and (once all finished) the report as text. */
function studyText(s: StudyDetail): string {
  const lines = [
    `${s.name}  ${s.id}`,
    `status    ${s.status}; ${finishedCount(s)}/${s.counts.total} experiments finished`,
    `varied    ${s.varied.join(', ') || '—'}`,
    `created   ${s.createdAt}`,
    '',
    table(
      ['experiment', 'status', 'seed', 'name'],
      s.experiments.map((e) => [e.id, e.status, String(e.seed), e.name]),
    ).trimEnd(),
  ];
  if (s.report) {
    lines.push('', s.report.markdown.trimEnd());
    if (s.report.missing.length)
      lines.push(
        '',
        `not aggregated (${s.report.partial ? 'not finished or did not succeed' : 'did not succeed'}): ${s.report.missing.join(', ')}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

function finishStudy(s: StudyDetail, io: RemoteIo, asJson: boolean): number {
  if (asJson) json(io, s);
  else io.stdout.write(studyText(s));
  return s.status === 'succeeded' ? 0 : 1;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

// ---------------------------------------------------------------- following an experiment

/** Live view of an experiment on stderr: redrawn per member and job on a TTY, one line per change otherwise. */
class LiveView {
  private status = '';
  private readonly members = new Map<number, number>();
  private readonly jobs = new Map<string, { kind: string; state: string }>();
  private drawn = 0;
  private total = { members: 1, epochs: 0 };

  constructor(
    private readonly io: RemoteIo,
    private readonly tty: boolean,
  ) {}

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
        const r = ev.data.record ?? {};
        const bits = [
          typeof r.trainLoss === 'number' ? `loss ${r.trainLoss.toFixed(4)}` : '',
          typeof r.trainAccuracy === 'number' ? `acc ${r.trainAccuracy.toFixed(4)}` : '',
          typeof r.validation?.ece === 'number' ? `val ECE ${r.validation.ece.toFixed(4)}` : '',
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
    for (let m = 0; m < this.total.members; m++)
      lines.push(`  member ${m}  ${bar(this.members.get(m) ?? 0, this.total.epochs)}`);
    const jobs = [...this.jobs.values()].filter((j) => j.state !== 'completed').slice(-8);
    for (const j of jobs) lines.push(`  job ${j.kind.padEnd(22)} ${j.state}`);
    const up = this.drawn ? `\x1b[${this.drawn}A\x1b[0J` : '';
    this.io.stderr.write(`${up}${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }
}

async function follow(client: ArcalClient, id: string, io: RemoteIo, asJson: boolean): Promise<ExperimentDetail> {
  const view = new LiveView(io, Boolean(io.stderr.isTTY) && !asJson);
  for await (const ev of client.events(id, { signal: io.signal })) {
    if (asJson) json(io, ev);
    else view.event(ev);
    if (ev.event === 'snapshot' && FINISHED_STATUSES.includes(ev.data.experiment.status)) break;
  }
  if (io.signal?.aborted) throw Object.assign(new Error('interrupted'), { name: 'AbortError' });
  return client.get(id);
}

function finish(e: ExperimentDetail, io: RemoteIo, asJson: boolean): number {
  if (asJson) {
    const { report, ...rest } = e;
    json(io, { ...rest, final: report?.final ?? null });
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

// ---------------------------------------------------------------- report

async function writeFigures(e: ExperimentDetail, dir: string, relativeTo: string) {
  const { reportCharts } = await import('@arcal/web/charts');
  const { chartToSvg, svgToPng } = await import('@arcal/web/render');
  await mkdir(dir, { recursive: true });
  const out: Array<{ name: string; title: string; svg: string; png?: string }> = [];
  for (const c of reportCharts(e.report!)) {
    const svg = await chartToSvg(c.spec);
    const svgPath = join(dir, `${c.name}.svg`);
    await writeFile(svgPath, svg);
    const png = await svgToPng(svg);
    let pngPath: string | undefined;
    if (png) {
      pngPath = join(dir, `${c.name}.png`);
      await writeFile(pngPath, png);
    }
    out.push({
      name: c.name,
      title: c.title,
      svg: relative(relativeTo, svgPath),
      ...(pngPath ? { png: relative(relativeTo, pngPath) } : {}),
    });
  }
  return out;
}

const n4 = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '—');

/** The report as Markdown: summary, final metrics, members, per-subset, shift and OOD tables, figures, notes. */
export function reportMarkdown(
  e: ExperimentView & Pick<ExperimentDetail, 'report'>,
  figures: Array<{ title: string; svg: string }> = [],
): string {
  const r = e.report!;
  const md: string[] = [];
  const t = (head: string[], rows: string[][]) => {
    md.push(
      `| ${head.join(' | ')} |`,
      `|${head.map(() => '---').join('|')}|`,
      ...rows.map((x) => `| ${x.join(' | ')} |`),
      '',
    );
  };
  md.push(`# ${e.name}`, '');
  md.push(`- experiment: \`${e.id}\` (${e.status}, attempt ${e.attempt})`);
  md.push(
    `- method: ${e.spec?.method?.kind ?? '?'}; dataset: ${r.dataset?.name ?? e.spec?.dataset?.name ?? '?'}; model: ${e.spec?.model?.arch ?? '?'}; members: ${r.members?.length ?? 1}`,
  );
  if (r.dataset)
    md.push(`- data: train ${r.dataset.train}, validation ${r.dataset.validation}, test ${r.dataset.test}`);
  if (r.timings)
    md.push(
      `- time: ${r.timings.totalSeconds.toFixed(1)} s (train ${r.timings.trainSeconds.toFixed(1)}, attack ${r.timings.attackSeconds.toFixed(1)}, eval ${r.timings.evalSeconds.toFixed(1)}); backend ${r.backend}`,
    );
  md.push('', '## Test set', '');
  t(['accuracy', 'ECE', 'NLL', 'Brier'], [[n4(r.final.accuracy), n4(r.final.ece), n4(r.final.nll), n4(r.final.brier)]]);
  if (r.members?.length > 1) {
    md.push('## Members', '');
    t(
      ['member', 'seed', 'accuracy', 'ECE', 'NLL', 'Brier'],
      r.members.map((m) => [
        String(m.member),
        String(m.seed),
        n4(m.final.accuracy),
        n4(m.final.ece),
        n4(m.final.nll),
        n4(m.final.brier),
      ]),
    );
  }
  if (r.bySubset?.length) {
    md.push('## By robustness subset', '');
    t(
      ['subset', 'count', 'robustness', 'accuracy', 'confidence', 'ECE'],
      r.bySubset.map((s) => [
        String(s.subset),
        String(s.count),
        `${n4(s.minRobustness)}–${n4(s.maxRobustness)}`,
        n4(s.acc),
        n4(s.conf),
        n4(s.ece),
      ]),
    );
  }
  if (r.shift?.meanEceBySeverity?.length) {
    md.push('## Distribution shift', '');
    t(
      ['severity', 'corruptions', 'mean ECE'],
      r.shift.meanEceBySeverity.map((s) => [String(s.severity), String(s.corruptions), n4(s.meanEce)]),
    );
  }
  if (r.ood) {
    md.push('## Out of distribution', '');
    t(
      ['OOD set', 'in / out samples', 'AUROC (max prob)', 'AUROC (entropy)'],
      [[r.ood.dataset, `${r.ood.inCount} / ${r.ood.outCount}`, n4(r.ood.aurocMaxProb), n4(r.ood.aurocEntropy)]],
    );
  }
  if (figures.length) {
    md.push('## Figures', '');
    for (const f of figures) md.push(`![${f.title}](${f.svg.split('\\').join('/')})`, '');
  }
  if (r.notes?.length) {
    md.push('## Notes', '');
    for (const n of r.notes) md.push(`- ${n}`);
    md.push('');
  }
  return `${md.join('\n')}\n`;
}

export { ApiError };
