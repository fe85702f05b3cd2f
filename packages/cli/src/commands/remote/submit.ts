/** `arcal submit <spec.json> [--wait] [--idempotency-key k] [--json]`: queue an experiment, optionally follow it. */
import { ArcalError, validateSpec } from '@arcal/contracts';
import { str } from '../../args.ts';
import { finish, follow } from './follow.ts';
import { onePositional, printJson, type RemoteCommandModule, readJson } from './shared.ts';

const usage = 'arcal submit <spec.json> [--wait] [--idempotency-key k] [--json]';

export default {
  usage,
  options: { boolean: ['wait', 'json'], string: ['idempotency-key'] },
  async run(a, client, io) {
    const file = onePositional(a, usage);
    const raw = readJson(file);
    // The same rules the service applies, checked here first so problems show without a round trip.
    const v = validateSpec(raw);
    if (!v.ok) throw new ArcalError('INVALID_SPEC', `${file}: ${v.problems.length} problem(s)`, v.problems);
    const key = str(a, 'idempotency-key');
    const s = await client.submit(raw, key ? { idempotencyKey: key } : {});
    if (!a.flags.wait) {
      if (a.flags.json) printJson(io, s);
      else io.stdout.write(`${s.id} ${s.status} (estimated ${Math.round(s.estimate.seconds)} CPU-seconds)\n`);
      return 0;
    }
    if (!a.flags.json) io.stderr.write(`submitted ${s.id}\n`);
    const final = await follow(client, s.id, io, Boolean(a.flags.json));
    return finish(final, io, Boolean(a.flags.json));
  },
} satisfies RemoteCommandModule;
