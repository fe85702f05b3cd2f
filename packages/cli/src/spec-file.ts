/** Reading and validating a spec file for the inline commands. */
import { readFileSync } from 'node:fs';
import { ArcalError, formatProblem, type ResolvedSpec, validateSpec } from '@arcal/contracts';
import { unimplementedPaths } from '@arcal/core';

/** Parses and validates; throws INVALID_SPEC / NOT_IMPLEMENTED with one detail per problem. */
export function loadSpecFile(file: string): ResolvedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ArcalError(
      'INVALID_INPUT',
      `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ArcalError('INVALID_SPEC', `${file}: not valid JSON (${(e as Error).message})`);
  }
  return checkSpec(raw, file);
}

export function checkSpec(raw: unknown, file = 'spec'): ResolvedSpec {
  const r = validateSpec(raw);
  if (!r.ok)
    throw new ArcalError(
      'INVALID_SPEC',
      `${file}: ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}`,
      r.problems,
    );
  const missing = unimplementedPaths(r.spec, raw);
  if (missing.length) {
    throw new ArcalError(
      'NOT_IMPLEMENTED',
      `${file}: uses features this version does not implement`,
      missing.map((path) => ({ path, message: 'not implemented' })),
    );
  }
  return r.spec;
}

/** The CLI's rendering of spec problems: one line each. */
export const problemLines = (e: ArcalError): string[] =>
  e.code === 'NOT_IMPLEMENTED' ? e.details.map((d) => `not implemented: ${d.path}`) : e.details.map(formatProblem);
