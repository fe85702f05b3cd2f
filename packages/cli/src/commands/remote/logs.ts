/** `arcal logs <id> [--follow] [--json]`: an experiment's worker logs; --follow streams them until it ends. */
import { type ExperimentStatus, type ExperimentStreamEvent, FINISHED_STATUSES } from '@arcal/client';
import { onePositional, printJson, type RemoteCommandModule } from './shared.ts';

const usage = 'arcal logs <id> [--follow] [--json]';

export default {
  usage,
  options: { boolean: ['follow', 'json'] },
  async run(a, client, io) {
    const id = onePositional(a, usage);
    const asJson = Boolean(a.flags.json);
    const print = (l: { id: string; at: string; level: string; message: string }) =>
      asJson ? printJson(io, l) : io.stdout.write(`${l.at} ${l.level.padEnd(5)} ${l.message}\n`);
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
} satisfies RemoteCommandModule;
