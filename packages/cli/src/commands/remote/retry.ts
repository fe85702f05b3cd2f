/** `arcal retry <id> [--json]`: queue a failed or cancelled experiment again (the next attempt). */
import { onePositional, printJson, type RemoteCommandModule } from './shared.ts';

const usage = 'arcal retry <id> [--json]';

export default {
  usage,
  options: { boolean: ['json'] },
  async run(a, client, io) {
    const e = await client.retry(onePositional(a, usage));
    if (a.flags.json) printJson(io, e);
    else io.stdout.write(`${e.id} ${e.status} (attempt ${e.attempt})\n`);
    return 0;
  },
} satisfies RemoteCommandModule;
