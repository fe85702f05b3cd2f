/**
 * fast-check arbitraries for the API fuzz suite: documents derived from the TypeBox (JSON Schema) contracts, and
 * hostile mutations of them. Raw JSON that JavaScript values cannot carry (numbers beyond float64, nesting deeper
 * than JSON.stringify's stack, NaN) travels as a marker string that `toJsonText` swaps for the raw text.
 */
import fc from 'fast-check';

type Schema = Record<string, any>;

/** Pieces of raw JSON text, referred to by marker strings inside generated values. */
const RAW: string[] = [];
const RAW_INDEX = new Map<string, number>();
const rawMarker = (text: string) => {
  let i = RAW_INDEX.get(text);
  if (i === undefined) {
    i = RAW.push(text) - 1;
    RAW_INDEX.set(text, i);
  }
  return `\u0002RAW${i}\u0002`;
};
const MARKER = /"\\u0002RAW(\d+)\\u0002"/g;

/** JSON text of a generated value, markers replaced by their raw JSON. */
export function toJsonText(v: unknown): string {
  const text = JSON.stringify(v);
  return text === undefined ? '' : text.replace(MARKER, (_, i) => RAW[Number(i)]!);
}

/** `depth` levels of arrays or objects as raw JSON text (built as text: no recursion anywhere). */
const nestedText = (depth: number, kind: 'array' | 'object') =>
  kind === 'array' ? `${'['.repeat(depth)}0${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}0${'}'.repeat(depth)}`;

/** An object with an own, enumerable property of any name (`__proto__` included, which a literal cannot make). */
export function withKey(o: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const own = { enumerable: true, writable: true, configurable: true };
  for (const k of Object.keys(o)) Object.defineProperty(out, k, { value: o[k], ...own });
  Object.defineProperty(out, key, { value, ...own });
  return out;
}

/** Biased toward the low end of a range, where a value is most likely to be admitted and to matter. */
function integerIn(min: number, max: number): fc.Arbitrary<number> {
  const near = Math.min(max, min + 64);
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min, max: near }) },
    { weight: 1, arbitrary: fc.integer({ min, max }) },
  );
}

/** Values that satisfy `schema` (most of the time: patterns and uniqueness are approximated). */
export function fromSchema(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  if ('const' in schema) return fc.constant(schema.const);
  if (schema.anyOf) return fc.oneof(...(schema.anyOf as Schema[]).map((s) => fromSchema(s, depth)));
  if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case 'object': {
      if (schema.properties) {
        const required = new Set<string>(schema.required ?? []);
        const props = Object.fromEntries(
          Object.entries(schema.properties as Record<string, Schema>).map(([k, s]) => [k, fromSchema(s, depth + 1)]),
        );
        return fc.record(props, {
          requiredKeys: Object.keys(props).filter((k) => required.has(k)),
        }) as fc.Arbitrary<unknown>;
      }
      if (schema.patternProperties) {
        const [pattern, value] = Object.entries(schema.patternProperties as Record<string, Schema>)[0]!;
        return fc.dictionary(fc.stringMatching(new RegExp(pattern)), fromSchema(value, depth + 1), { maxKeys: 4 });
      }
      return depth > 3 ? fc.constant({}) : fc.dictionary(fc.string(), anyJson(depth + 1), { maxKeys: 3 });
    }
    case 'array': {
      if (Array.isArray(schema.items)) return fc.tuple(...(schema.items as Schema[]).map((s) => fromSchema(s, depth)));
      const item =
        schema.items && Object.keys(schema.items).length ? fromSchema(schema.items, depth + 1) : anyJson(depth + 1);
      return fc.array(item, { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    }
    case 'integer': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : -(2 ** 31));
      const max = schema.maximum ?? (schema.exclusiveMaximum !== undefined ? schema.exclusiveMaximum - 1 : 2 ** 31 - 1);
      return integerIn(min, max);
    }
    case 'number': {
      const min = schema.minimum ?? schema.exclusiveMinimum ?? -1e6;
      const max = schema.maximum ?? schema.exclusiveMaximum ?? 1e6;
      return fc
        .double({
          min,
          max,
          minExcluded: schema.exclusiveMinimum !== undefined,
          maxExcluded: schema.exclusiveMaximum !== undefined,
          noNaN: true,
        })
        .map((x) => (Object.is(x, -0) ? 0 : x));
    }
    case 'string': {
      if (schema.pattern)
        return fc
          .stringMatching(new RegExp(schema.pattern))
          .filter((s) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? 1000));
      return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return anyJson(depth);
  }
}

/** Plain JSON values, shallow. */
const anyJson = (depth: number): fc.Arbitrary<unknown> =>
  depth > 4
    ? fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null))
    : fc.oneof(
        {
          weight: 3,
          arbitrary: fc.oneof(
            fc.integer(),
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.string(),
            fc.boolean(),
            fc.constant(null),
          ),
        },
        { weight: 1, arbitrary: fc.array(fc.integer(), { maxLength: 3 }) },
      );

/** Every leaf path of a schema (dot paths into the documents it describes), with its schema. */
export function leafPaths(schema: Schema, prefix = ''): Array<[string, Schema]> {
  if (schema.type === 'object' && schema.properties) {
    return Object.entries(schema.properties as Record<string, Schema>).flatMap(([k, s]) =>
      leafPaths(s, prefix ? `${prefix}.${k}` : k),
    );
  }
  return prefix ? [[prefix, schema]] : [];
}

/** Keys that have broken JavaScript services: prototype keys, operator-looking keys, keys PostgreSQL refuses. */
export const hostileKey = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    '__proto__.polluted',
    'constructor.prototype.polluted',
    'dataset.__proto__.polluted',
    'toString',
    'hasOwnProperty',
    '$ne',
    '$where',
    'x_y',
    '',
    'k\u0000',
    '\ud800',
    'a.b.c.d.e.f.g.h',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.nat({ max: 50_000 }).map((n) => 'k'.repeat(n)),
);

/** Values of the wrong type or outside what any field takes. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  // strings PostgreSQL or Unicode-aware code may choke on
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    '\udfff',
    'x\udbff',
    '\x01\x1f\x7f',
    '\u2028\u2029',
    '\ufeff',
    '%00',
    '../../etc/passwd',
  ),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.nat({ max: 300_000 }).map((n) => 'x'.repeat(n)),
  // numbers at and past float64's edges, and the non-finite ones JSON cannot spell
  fc.constantFrom(
    1e308,
    -1e308,
    2 ** 53 + 2,
    -(2 ** 63),
    5e-324,
    Number.MAX_VALUE,
    -0.0000001,
    0.5,
    -1,
    0,
    2 ** 31,
    2 ** 32,
  ),
  fc
    .constantFrom(
      '1e999',
      '-1e999',
      '123456789012345678901234567890',
      '1.7976931348623159e308',
      'NaN',
      'Infinity',
      '-Infinity',
    )
    .map(rawMarker),
  // nesting at, around and far past the accepted depth
  fc
    .tuple(
      fc.constantFrom(10, 62, 63, 64, 65, 200, 1000, 6000, 20000),
      fc.constantFrom('array' as const, 'object' as const),
    )
    .map(([d, k]) => rawMarker(nestedText(d, k))),
  // prototype pollution attempts as JSON objects
  fc.constantFrom(
    rawMarker('{"__proto__":{"polluted":"yes"}}'),
    rawMarker('{"constructor":{"prototype":{"polluted":"yes"}}}'),
    rawMarker('{"prototype":{"polluted":"yes"}}'),
    rawMarker('{"a":{"__proto__":{"isAdmin":true}}}'),
  ),
  // wrong types
  fc.constantFrom(null, true, false, [], {}, [[]], '', '5', [1, 2, 3], { $ne: null }),
  fc.array(fc.integer(), { minLength: 1000, maxLength: 3000 }),
);

/** A JSON path (keys) into a value, chosen at random among its containers. */
function containerPaths(v: unknown, path: string[] = [], out: string[][] = []): string[][] {
  if (v && typeof v === 'object' && out.length < 200) {
    out.push(path);
    for (const k of Object.keys(v)) containerPaths((v as Record<string, unknown>)[k], [...path, k], out);
  }
  return out;
}

type Mutation =
  | { kind: 'set'; value: unknown }
  | { kind: 'add'; key: string; value: unknown }
  | { kind: 'delete' }
  | { kind: 'wrap' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: hostileValue.map((value) => ({ kind: 'set' as const, value })) },
  {
    weight: 3,
    arbitrary: fc.tuple(hostileKey, hostileValue).map(([key, value]) => ({ kind: 'add' as const, key, value })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'delete' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'wrap' as const }) },
);

/** Copy of `doc` with 1–3 hostile mutations at random places (a child of a random container each). */
export function mutated(doc: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(doc, fc.array(fc.tuple(fc.nat(), fc.nat(), mutation), { minLength: 1, maxLength: 3 }))
    .map(([d, muts]) => {
      let root = JSON.parse(JSON.stringify(d)) as unknown;
      for (const [pick, child, m] of muts) {
        const paths = containerPaths(root);
        if (!paths.length) return m.kind === 'set' ? m.value : root;
        const path = paths[pick % paths.length]!;
        let parent = root as Record<string, unknown>;
        for (const k of path) parent = parent[k] as Record<string, unknown>;
        const keys = Object.keys(parent);
        const key = keys.length ? keys[child % keys.length]! : '0';
        const replace = (next: Record<string, unknown>) => {
          if (!path.length) root = next;
          else {
            let p = root as Record<string, unknown>;
            for (const k of path.slice(0, -1)) p = p[k] as Record<string, unknown>;
            p[path.at(-1)!] = next;
          }
        };
        if (m.kind === 'set') parent[key] = m.value;
        else if (m.kind === 'delete') delete parent[key];
        else if (m.kind === 'wrap') parent[key] = [parent[key]];
        else if (Array.isArray(parent)) parent.push(m.value);
        else replace(withKey(parent, m.key, m.value));
      }
      return root;
    });
}

/** Request bodies that are not JSON documents at all, or are JSON but not objects. */
export const hostileBodyText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '}',
    '[',
    'null',
    '0',
    '"x"',
    'NaN',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":1e999}',
    '[1,2,',
    '{"a":"\\ud800"}',
    '{"a":"\\u0000"}',
    '\u0000',
    '{"__proto__":{"x":1}}',
    '{"constructor":{"prototype":{"x":1}}}',
  ),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom(20, 1000, 6000, 100_000).map((d) => nestedText(d, 'array')),
  fc.constantFrom(1000, 6000).map((d) => nestedText(d, 'object')),
);
