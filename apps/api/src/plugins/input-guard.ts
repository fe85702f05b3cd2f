/**
 * Refuses input that would otherwise reach code or storage unable to take it, before any route sees it:
 * documents nested deeper than anything arcal accepts (recursive code further on would overflow the stack),
 * strings PostgreSQL refuses (NUL, and lone UTF-16 surrogates, which JSON.stringify writes as escapes that
 * jsonb rejects), in keys as well as values, in the body, the path parameters and the query string; and
 * request headers over their documented size. Each refusal is a 400 naming the offending path.
 */
import { ArcalError } from '@arcal/contracts';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Deepest nesting of objects and arrays accepted in a request body. A study (the deepest document arcal
 * takes) nests about 6 levels; the margin leaves room for attack parameters without letting a document
 * reach depths where recursive validation, hashing or JSON code runs out of stack.
 */
export const MAX_JSON_DEPTH = 64;

/** Longest `Idempotency-Key` accepted (as documented in the OpenAPI document). */
export const MAX_IDEMPOTENCY_KEY = 200;

export interface InputProblem {
  path: string;
  message: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for
const NUL = /\u0000/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why PostgreSQL could not store this string, or null when it can. */
export function stringProblem(s: string): string | null {
  if (NUL.test(s)) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
  return null;
}

/** A key as it appears in a dot path: control characters and surrogates escaped so the path stays printable. */
const shown = (key: string) => JSON.stringify(key).slice(1, -1);
const join = (path: string, key: string) => (path ? `${path}.${shown(key)}` : shown(key));

/**
 * The first problem in a parsed JSON value (or a parsed query string / path parameters): nesting deeper than
 * `maxDepth`, or a key or string value that `stringProblem` refuses. Walks with an explicit stack, so a
 * hostile depth costs no stack and at most one visit per node.
 */
export function inputProblem(value: unknown, root = '', maxDepth = MAX_JSON_DEPTH): InputProblem | null {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: value, path: root, depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const why = stringProblem(v);
      if (why) return { path: path || '(body)', message: why };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth)
      return { path: path || '(body)', message: `is nested deeper than ${maxDepth} levels of objects and arrays` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: join(path, String(i)), depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      const why = stringProblem(k);
      if (why) return { path: join(path, k), message: `has a key that ${why}` };
      stack.push({ v: (v as Record<string, unknown>)[k], path: join(path, k), depth: depth + 1 });
    }
  }
  return null;
}

/** The request's Idempotency-Key, if any; 400 when it is longer than documented. */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key === '') return undefined;
  if (key.length > MAX_IDEMPOTENCY_KEY)
    throw new ArcalError('INVALID_INPUT', 'the Idempotency-Key header is too long', [
      {
        path: 'headers.idempotency-key',
        message: `must be at most ${MAX_IDEMPOTENCY_KEY} characters (got ${key.length})`,
      },
    ]);
  const why = stringProblem(key);
  if (why)
    throw new ArcalError('INVALID_INPUT', 'the Idempotency-Key header is invalid', [
      { path: 'headers.idempotency-key', message: why },
    ]);
  return key;
}

/**
 * Checks every request's body, path parameters and query string before validation and authentication, and the
 * numbers validation coerced them to before any handler.
 */
export function registerInputGuard(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const problem =
      inputProblem(request.params, 'params') ??
      inputProblem(request.query, 'querystring') ??
      inputProblem(request.body);
    if (problem) throw new ArcalError('INVALID_INPUT', 'the request is invalid', [problem]);
  });
  // Ajv coerces "Infinity" and "1e999" in a query string to a number and then lets it past `maximum`; no route
  // takes a non-finite number, so one left after validation is refused here rather than reaching the database.
  app.addHook('preHandler', async (request) => {
    for (const [part, values] of [
      ['querystring', request.query],
      ['params', request.params],
    ] as const) {
      if (!values || typeof values !== 'object') continue;
      for (const [k, v] of Object.entries(values)) {
        if (typeof v === 'number' && !Number.isFinite(v))
          throw new ArcalError('INVALID_INPUT', 'the request is invalid', [
            { path: `${part}.${k}`, message: 'must be a finite number' },
          ]);
      }
    }
  });
}
