/** `arcal status <id> [--json]`: status, progress and final metrics of one experiment. */
import { progressOf } from '@arcal/client';
import { onePositional, printJson, type RemoteCommandModule } from './shared.ts';

const usage = 'arcal status <id> [--json]';

export default {
  usage,
  options: { boolean: ['json'] },
  async run(a, client, io) {
    const id = onePositional(a, usage);
    const e = await client.get(id);
    const p = progressOf(e, (await client.metrics(id)).epochs);
    if (a.flags.json) {
      const { report, ...rest } = e;
      printJson(io, { ...rest, progress: p, final: report?.final ?? null });
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
} satisfies RemoteCommandModule;
