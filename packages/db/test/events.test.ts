import { integrationEnv } from '@arcal/db/testing';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compareEventIds,
  EVENT_LOG_MAX_ENTRIES,
  EventPublisher,
  EventSubscriber,
  type ExperimentEvent,
} from '../src/events.ts';
import { createRedis } from '../src/redis.ts';

const integration = await integrationEnv('db-events');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

describe('compareEventIds', () => {
  it('orders by milliseconds, then by sequence, numerically', () => {
    expect(compareEventIds('2-0', '10-0')).toBeLessThan(0);
    expect(compareEventIds('5-10', '5-9')).toBeGreaterThan(0);
    expect(compareEventIds('7-3', '7-3')).toBe(0);
    expect(compareEventIds('0-0', '1-0')).toBeLessThan(0);
  });
});

describe.skipIf(!env)('experiment event log (real Redis)', () => {
  const epoch = (n: number): ExperimentEvent => ({ type: 'epoch', member: 0, epoch: n, record: null });

  it('announces concurrent publishes in id order, and history after an id holds exactly the later events', async () => {
    const ra = createRedis(env!.redisUrl, 'producer');
    const rb = createRedis(env!.redisUrl, 'producer');
    const a = new EventPublisher(ra, env!.prefix);
    const b = new EventPublisher(rb, env!.prefix);
    const sub = new EventSubscriber(createRedis(env!.redisUrl, 'worker'), env!.prefix);
    try {
      const seen: Array<{ id: string; n: number }> = [];
      const unsubscribe = await sub.subscribe('exp-1', (e, id) =>
        seen.push({ id: id!, n: (e as { epoch: number }).epoch }),
      );
      expect(await sub.lastEventId('exp-1')).toBe('0-0');
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).publish('exp-1', epoch(i))));
      while (seen.length < 40) await new Promise((r) => setTimeout(r, 20));
      unsubscribe();
      for (let i = 1; i < seen.length; i++) expect(compareEventIds(seen[i].id, seen[i - 1].id)).toBeGreaterThan(0);
      expect(new Set(seen.map((s) => s.id))).toEqual(new Set(ids));
      const sorted = seen; // arrival order, which is id order (checked above)
      expect(await sub.lastEventId('exp-1')).toBe(sorted[39].id);
      const tail = await sub.history('exp-1', sorted[29].id);
      expect(tail!.map((h) => h.id)).toEqual(sorted.slice(30).map((s) => s.id));
      expect(tail!.map((h) => (h.event as { epoch: number }).epoch)).toEqual(sorted.slice(30).map((s) => s.n));
      expect(await sub.history('exp-1', sorted[39].id)).toEqual([]);
      expect((await sub.history('exp-1', '0-0'))!.length).toBe(40);
      // no stream at all (never written, or expired): the log cannot vouch for anything after any id
      expect(await sub.history('exp-none', '0-0')).toBeUndefined();
      expect(await sub.history('exp-none', '5-0')).toBeUndefined();
    } finally {
      await sub.close();
      ra.disconnect();
      rb.disconnect();
    }
  });

  it('says so when the entries after an id were trimmed away (the caller falls back to a snapshot)', async () => {
    const redis = createRedis(env!.redisUrl, 'producer');
    const p = new EventPublisher(redis, env!.prefix);
    const sub = new EventSubscriber(createRedis(env!.redisUrl, 'worker'), env!.prefix);
    try {
      const first = await p.publish('exp-2', epoch(0));
      const total = EVENT_LOG_MAX_ENTRIES + 300;
      let last = first;
      for (let i = 1; i < total; i++) last = await p.publish('exp-2', epoch(i));
      expect(await sub.history('exp-2', first)).toBeUndefined();
      const recent = await sub.history('exp-2', '0-0');
      expect(recent).toBeUndefined();
      const kept = await redis.xlen(`${env!.prefix}:event-log:exp-2`);
      expect(kept).toBeLessThan(total);
      expect(kept).toBeGreaterThanOrEqual(EVENT_LOG_MAX_ENTRIES);
      const lastFive = (await redis.xrevrange(`${env!.prefix}:event-log:exp-2`, '+', '-', 'COUNT', 6)).map((e) => e[0]);
      const h = await sub.history('exp-2', lastFive[5]!);
      expect(h!.map((e) => e.id)).toEqual(lastFive.slice(0, 5).reverse());
      expect(h!.at(-1)!.id).toBe(last);
    } finally {
      await sub.close();
      redis.disconnect();
    }
  });
});
