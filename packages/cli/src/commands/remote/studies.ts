/**
 * `arcal studies [<id>] [--wait] [--limit n] [--json]` lists studies or shows one (mean ± std over the
 * experiments finished so far); `arcal studies cancel|delete <id> [--json]` stops or removes one.
 */
import { ArcalError } from '@arcal/contracts';
import { limitOf, printJson, type RemoteCommandModule, table } from './shared.ts';
import { finishedCount, finishStudy, followStudy, studyText } from './study-view.ts';

const usage = 'arcal studies [<id>] [--wait] [--limit n] [--json] | arcal studies cancel|delete <id> [--json]';

export default {
  usage,
  options: { boolean: ['wait', 'json'], string: ['limit'] },
  async run(a, client, io) {
    const action = a.positionals[0];
    if (action === 'cancel' || action === 'delete') {
      const target = a.positionals[1];
      if (!target || a.positionals.length > 2) throw new ArcalError('INVALID_INPUT', `usage: ${usage}`);
      if (action === 'delete') {
        await client.deleteStudy(target);
        if (a.flags.json) printJson(io, { id: target, deleted: true });
        else io.stdout.write(`${target} deleted\n`);
        return 0;
      }
      const s = await client.cancelStudy(target);
      const c = s.counts;
      if (a.flags.json) printJson(io, s);
      else
        io.stdout.write(
          `${s.id} ${s.status}: ${finishedCount(s)}/${c.total} finished (${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled)\n`,
        );
      return 0;
    }
    if (a.positionals.length > 1) throw new ArcalError('INVALID_INPUT', `usage: ${usage}`);
    const id = a.positionals[0];
    if (id) {
      const asJson = Boolean(a.flags.json);
      const s = a.flags.wait ? await followStudy(client, id, io, asJson) : await client.getStudy(id);
      if (a.flags.wait) return finishStudy(s, io, asJson);
      if (asJson) printJson(io, s);
      else io.stdout.write(studyText(s));
      return 0;
    }
    const items = await client.listAllStudies({ max: limitOf(a) });
    if (a.flags.json) {
      printJson(io, items);
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
} satisfies RemoteCommandModule;
