/** A study as text, and following one until every experiment has finished (`study --wait`, `studies --wait`). */
import type { ArcalClient, StudyDetail, StudyView } from '@arcal/client';
import { interrupted, printJson, type RemoteIo, table } from './shared.ts';

export const finishedCount = (s: Pick<StudyView, 'counts'>) =>
  s.counts.succeeded + s.counts.failed + s.counts.cancelled;

const studyLine = (s: StudyView) => {
  const c = s.counts;
  return `study ${s.status}: ${finishedCount(s)}/${c.total} finished (${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.running} running)`;
};

/** Re-reads the study until every experiment has finished; a line on stderr per change (JSON lines with --json). */
export async function followStudy(
  client: ArcalClient,
  id: string,
  io: RemoteIo,
  asJson: boolean,
): Promise<StudyDetail> {
  let last = '';
  const s = await client.waitForStudy(id, {
    intervalMs: io.pollMs ?? 5000,
    signal: io.signal,
    onUpdate: (u) => {
      const line = studyLine(u);
      if (line === last) return;
      last = line;
      if (asJson) printJson(io, { id: u.id, status: u.status, counts: u.counts });
      else io.stderr.write(`${line}\n`);
    },
  });
  if (io.signal?.aborted) throw interrupted();
  return s;
}

/** Status, experiments and (once all finished) the report as text. */
export function studyText(s: StudyDetail): string {
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

/** The finished study on stdout; exit 0 only when it succeeded. */
export function finishStudy(s: StudyDetail, io: RemoteIo, asJson: boolean): number {
  if (asJson) printJson(io, s);
  else io.stdout.write(studyText(s));
  return s.status === 'succeeded' ? 0 : 1;
}
