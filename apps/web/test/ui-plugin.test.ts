import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { webUi } from '../src/index.ts';

describe('webUi plugin', () => {
  it('serves the built files under /ui/ with a same-origin CSP, redirects /ui', async () => {
    const root = mkdtempSync(join(tmpdir(), 'arcal-web-'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(root, 'app.js'), 'export {}');
    const app = Fastify();
    await app.register(webUi, { root });
    app.get('/v1/x', async () => ({ ok: true }));
    expect((await app.inject({ url: '/ui' })).headers.location).toBe('/ui/');
    const index = await app.inject({ url: '/ui/' });
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('<title>t</title>');
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.headers['content-security-policy']).toContain("connect-src 'self'");
    const js = await app.inject({ url: '/ui/app.js' });
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect((await app.inject({ url: '/ui/../package.json' })).statusCode).toBe(404);
    // The hook stays inside the plugin: other routes keep their own headers.
    expect((await app.inject({ url: '/v1/x' })).headers['content-security-policy']).toBeUndefined();
    await app.close();
  });

  it('answers 503 with the build command when nothing is built', async () => {
    const app = Fastify();
    await app.register(webUi, { root: mkdtempSync(join(tmpdir(), 'arcal-web-empty-')) });
    const r = await app.inject({ url: '/ui/' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('npm run build:web');
    await app.close();
  });
});
