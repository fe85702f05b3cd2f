/** `arcal list [--status s] [--limit n] [--json]`: the project's experiments, newest first. */
import type { ExperimentStatus } from '@arcal/client';
import { str } from '../../args.ts';
import { limitOf, printJson, type RemoteCommandModule, table } from './shared.ts';

export default {
  usage: 'arcal list [--status s] [--limit n] [--json]',
  options: { boolean: ['json'], string: ['status', 'limit'] },
  async run(a, client, io) {
    const status = str(a, 'status') as ExperimentStatus | undefined;
    const items = await client.listAll({ status, max: limitOf(a) });
    if (a.flags.json) {
      printJson(io, items);
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
} satisfies RemoteCommandModule;
