/**
 * The OpenAPI document is good enough to generate a client from: every operation named, every shared schema
 * named after what it is, binary bodies typed as binary; and types generated from it by a standard generator
 * (openapi-typescript) accept what the hand-written client sends and returns.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { integrationEnv } from '@arcal/db/testing';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../../packages/client/src/routes.ts';
import { testApp } from './helpers.ts';

const integration = await integrationEnv('openapi');
const env = integration.available ? integration.env : undefined;
afterAll(() => env?.cleanup());

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const clientEntry = join(repoRoot, 'packages/client/src/index.ts');
const run = (cmd: string, args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(cmd, args, { timeout: 100_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );

type Doc = any;

describe.skipIf(!env)('OpenAPI document', () => {
  let t: Awaited<ReturnType<typeof testApp>>;
  let doc: Doc;
  beforeAll(async () => {
    t = await testApp(env!);
    doc = (await t.app.inject({ url: '/docs/json' })).json();
  });
  afterAll(() => t?.close());

  const operations = () =>
    Object.entries(doc.paths as Record<string, Record<string, Doc>>).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([m]) => METHODS.includes(m))
        .map(([method, op]) => ({ path, method, op })),
    );

  it('names every operation, once', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(21);
    expect(ops.filter((o) => !o.op.operationId).map((o) => `${o.method} ${o.path}`)).toEqual([]);
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names its component schemas after what they are, never def-N, and every reference resolves', () => {
    const names = Object.keys(doc.components.schemas);
    expect(names.filter((n) => /^def-\d+$/.test(n))).toEqual([]);
    for (const n of [
      'Experiment',
      'ExperimentDetail',
      'ExperimentSpec',
      'Study',
      'StudyDetail',
      'StudySpec',
      'Problem',
      'Estimate',
      'StudyReport',
    ])
      expect(names, n).toContain(n);
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(20);
    expect([...new Set(refs)].filter((r) => !names.includes(r!))).toEqual([]);
    const get = doc.paths['/v1/experiments/{id}'].get;
    expect(get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ExperimentDetail',
    });
    expect(get.responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
  });

  it('types downloads as binary, the event stream and metrics as text', () => {
    const download = doc.paths['/v1/experiments/{id}/artifacts/{name}'].get.responses;
    expect(download['200'].content).toEqual({
      'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
    });
    expect(download['404'].content['application/json']).toBeDefined();
    expect(Object.keys(doc.paths['/v1/experiments/{id}/events'].get.responses['200'].content)).toEqual([
      'text/event-stream',
    ]);
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content)).toEqual(['text/plain']);
  });

  it('the client type-checks against types that openapi-typescript generates from the document', async () => {
    const generated = astToString(
      // A field with a default may be left out of a request (the API fills it in): not required in the types.
      await openapiTS(doc, { defaultNonNullable: false }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'arcal-openapi-'));
    try {
      writeFileSync(join(dir, 'api.d.ts'), generated);
      // What each client method returns must fit what the document says the route answers (every required
      // field, with its type; the client may know more precise types where the document says `unknown`), and
      // what it sends (query strings) must be what the document accepts. The operation of each method is looked up by the
      // operationId its route carries in the client's ROUTES table.
      const methods: Array<[method: string, route: keyof typeof ROUTES, status: number, call: string]> = [
        ['submit', 'submit', 202, 'client.submit({})'],
        ['list', 'list', 200, "client.list({ status: 'running', limit: 5, cursor: 'c' })"],
        ['get', 'get', 200, "client.get('x')"],
        ['metrics', 'metrics', 200, "client.metrics('x')"],
        ['logs', 'logs', 200, "client.logs('x', { after: '1', limit: 5 })"],
        ['artifacts', 'artifacts', 200, "client.artifacts('x')"],
        ['cancel', 'cancel', 200, "client.cancel('x')"],
        ['retry', 'retry', 202, "client.retry('x')"],
        ['createSession', 'createSession', 201, "client.createSession('k')"],
        ['submitStudy', 'submitStudy', 202, 'client.submitStudy({})'],
        ['listStudies', 'listStudies', 200, 'client.listStudies({ limit: 5 })'],
        ['getStudy', 'getStudy', 200, "client.getStudy('x')"],
        ['cancelStudy', 'cancelStudy', 200, "client.cancelStudy('x')"],
        ['health', 'health', 200, 'client.health()'],
        ['ready', 'ready', 200, 'client.ready()'],
      ];
      const lines = methods.map(([m, route, status, call], i) => {
        const op = ROUTES[route].operationId;
        return `  const r${i}: Known<Json<operations['${op}'], ${status}>> = await ${call}; // ${m}`;
      });
      const check = `import type { ArcalClient } from ${JSON.stringify(clientEntry)};
import type { components, operations } from './api.d.ts';

type Json<O, S extends number> = O extends { responses: { [K in S]: { content: { 'application/json': infer B } } } }
  ? B
  : never;
// \`unknown\` would accept anything: a response the generator could not type fails the check instead.
type Known<T> = unknown extends T ? never : T;
type Query<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export async function check(client: ArcalClient) {
${lines.join('\n')}
  const q1: Query<operations['${ROUTES.list.operationId}']> = {} as NonNullable<Parameters<ArcalClient['list']>[0]>;
  const q2: Query<operations['${ROUTES.logs.operationId}']> = {} as NonNullable<Parameters<ArcalClient['logs']>[1]>;
  const q3: Query<operations['${ROUTES.listStudies.operationId}']> = {} as NonNullable<Parameters<ArcalClient['listStudies']>[0]>;
  // The laptop-scale example spec is a body the document accepts.
  const spec: components['schemas']['ExperimentSpec'] = ${readFileSync(join(repoRoot, 'apps/api/test/fixtures/vanilla-synthetic.json'), 'utf8')};
  const bytes: Uint8Array = await client.artifact('x', 'report.json');
  type Download = operations['${ROUTES.artifact.operationId}']['responses'][200]['content']['application/octet-stream'];
  const raw: Download = '' as string;
  return [q1, q2, q3, spec, bytes, raw];
}
`;
      writeFileSync(join(dir, 'check.ts'), check);
      // The compiler runs in its own process: a type-check takes seconds that this one must not block.
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: join(repoRoot, 'tsconfig.base.json'),
          compilerOptions: { typeRoots: [join(repoRoot, 'node_modules/@types')] },
          files: ['check.ts'],
        }),
      );
      const tsc = await run(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', dir]);
      expect(tsc.stdout + tsc.stderr).toBe('');
      expect(tsc.code).toBe(0);
      // The check must see the generated operations, not an `any` that would accept everything.
      expect(generated).toMatch(/downloadArtifact: \{/);
      expect(generated).toMatch(/"application\/octet-stream": string;/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
