/** `arcal cancel <id> [--json]`: cancel an experiment. */
import { onePositional, printJson, type RemoteCommandModule } from './shared.ts';

const usage = 'arcal cancel <id> [--json]';

export default {
  usage,
  options: { boolean: ['json'] },
  async run(a, client, io) {
    const e = await client.cancel(onePositional(a, usage));
    if (a.flags.json) printJson(io, e);
    else io.stdout.write(`${e.id} ${e.status}\n`);
    return 0;
  },
} satisfies RemoteCommandModule;
