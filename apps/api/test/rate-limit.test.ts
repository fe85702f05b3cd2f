/**
 * Rate limits: by client address before authentication (so made-up credentials are limited too), honouring
 * X-Forwarded-For only with TRUST_PROXY, and by project after authentication.
 */
import { randomBytes } from 'node:crypto';
import { integrationEnv } from '@arcal/db/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('api_rate_limit');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const randomToken = () => `arcal_${randomBytes(24).toString('hex')}`;

describe('rate-limit and proxy settings', () => {
  it('TRUST_PROXY: off by default and for 0/false, every hop for 1/true, else the proxies named', () => {
    for (const v of [undefined, '', '0', 'false', 'FALSE'])
      expect(loadConfig({ TRUST_PROXY: v }).trustProxy).toBe(false);
    for (const v of ['1', 'true', 'True']) expect(loadConfig({ TRUST_PROXY: v }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.1' }).trustProxy).toBe('10.0.0.0/8, 192.168.1.1');
  });

  it('RATE_LIMIT_ADDRESS_MAX is optional; RATE_LIMIT_MAX is per project', () => {
    expect(loadConfig({ RATE_LIMIT_MAX: '7' }).rateLimit).toEqual({ max: 7, windowMs: 60_000 });
    expect(loadConfig({ RATE_LIMIT_ADDRESS_MAX: '50' }).rateLimit).toEqual({
      max: 120,
      windowMs: 60_000,
      addressMax: 50,
    });
    expect(() => loadConfig({ RATE_LIMIT_ADDRESS_MAX: 'many' })).toThrow(/RATE_LIMIT_ADDRESS_MAX/);
  });
});

describe.skipIf(!env)('rate limits (real PostgreSQL + Redis)', () => {
  it('a client sending a new random bad token each time is limited by its address', async () => {
    const t = await testApp(env!, { rateLimit: { max: 1000, windowMs: 60_000, addressMax: 5 } });
    try {
      const get = (remoteAddress: string, token = randomToken()) =>
        t.app.inject({ url: '/v1/experiments', remoteAddress, headers: { authorization: `Bearer ${token}` } });
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await get('192.0.2.10')).statusCode);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
      const limited = await get('192.0.2.10');
      expect(limited.json().code).toBe('RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      // The address is spent whatever it sends, a real key included; another address is not affected.
      const key = (await t.deps.repos.projects.createApiKey('rl-address')).key;
      expect((await get('192.0.2.10', key)).statusCode).toBe(429);
      expect((await get('192.0.2.11', key)).statusCode).toBe(200);
      expect((await get('192.0.2.11')).statusCode).toBe(401);
      // An IPv6 client's whole /64 is one address; an IPv4-mapped address is its IPv4 address.
      for (const a of [
        '2001:db8:1:2::1',
        '2001:db8:1:2:ffff::9',
        '2001:db8:1:2::a',
        '2001:db8:1:2::b',
        '2001:db8:1:2::c',
      ])
        expect((await get(a)).statusCode).toBe(401);
      expect((await get('2001:db8:1:2:1234::77')).statusCode).toBe(429);
      expect((await get('2001:db8:1:3::1')).statusCode).toBe(401);
      expect((await get('::ffff:192.0.2.10')).statusCode).toBe(429);
      // Health checks are never limited.
      expect((await t.app.inject({ url: '/healthz', remoteAddress: '192.0.2.10' })).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('X-Forwarded-For names the client only with TRUST_PROXY; without it the header cannot dodge the limit', async () => {
    const limits = { max: 1000, windowMs: 60_000, addressMax: 3 };
    const behindProxy = await testApp(env!, { trustProxy: true, rateLimit: limits });
    const direct = await testApp(env!, { trustProxy: false, rateLimit: limits });
    try {
      const get = (app: typeof direct.app, remoteAddress: string, forwardedFor: string) =>
        app.inject({
          url: '/v1/experiments',
          remoteAddress,
          headers: { authorization: `Bearer ${randomToken()}`, 'x-forwarded-for': forwardedFor },
        });
      // Behind the proxy (one socket address for everyone): each forwarded client has its own budget.
      const proxy = '198.51.100.1';
      for (let i = 0; i < 3; i++) expect((await get(behindProxy.app, proxy, '203.0.113.1')).statusCode).toBe(401);
      expect((await get(behindProxy.app, proxy, '203.0.113.1')).statusCode).toBe(429);
      expect((await get(behindProxy.app, proxy, '203.0.113.2')).statusCode).toBe(401);
      // Direct: a new forged X-Forwarded-For per request still counts against the socket's address.
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await get(direct.app, '198.51.100.2', `203.0.113.${i + 10}`)).statusCode);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      await behindProxy.close();
      await direct.close();
    }
  });

  it("after authentication the limit is the project's: its keys share it, other projects keep theirs", async () => {
    const t = await testApp(env!, { rateLimit: { max: 3, windowMs: 60_000, addressMax: 1000 } });
    try {
      const k1 = (await t.deps.repos.projects.createApiKey('rl-project')).key;
      const k2 = (await t.deps.repos.projects.createApiKey('rl-project')).key;
      const other = (await t.deps.repos.projects.createApiKey('rl-other')).key;
      // Different addresses, so only the project limit can be what refuses.
      const get = (k: string, remoteAddress: string) =>
        t.app.inject({ url: '/v1/experiments', remoteAddress, headers: { authorization: `Bearer ${k}` } });
      expect((await get(k1, '192.0.2.21')).statusCode).toBe(200);
      expect((await get(k2, '192.0.2.22')).statusCode).toBe(200);
      const third = await get(k1, '192.0.2.23');
      expect(third.statusCode).toBe(200);
      expect(third.headers['x-ratelimit-remaining']).toBe('0');
      const r = await get(k2, '192.0.2.24');
      expect(r.statusCode).toBe(429);
      expect(r.json().code).toBe('RATE_LIMITED');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect((await get(other, '192.0.2.21')).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });
});
