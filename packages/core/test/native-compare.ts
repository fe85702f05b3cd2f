/** Shared by the tests that compare the `native` backend's models with the `cpu` reference. */
import { probeBackends } from '../src/backend/index.ts';

/** Max |a − b| / max |b| (max |a − b| when b is all zeros). */
export function rel(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

/** Whether the native tests skip: the backend is unavailable and REQUIRE_NATIVE=1 does not ask for it. */
export async function skipWithoutNative(what: string): Promise<boolean> {
  const probe = (await probeBackends()).find((p) => p.name === 'native')!;
  const required = process.env.REQUIRE_NATIVE === '1';
  if (!probe.available)
    console.warn(`${what} skipped: ${probe.reason}${required ? ' (REQUIRE_NATIVE=1: failing)' : ''}`);
  return !probe.available && !required;
}
