/**
 * Bridge to @arcal/native (tfjs cpu backend with oneDNN kernels). Both functions report instead of
 * throwing, so a missing or unbuilt addon leaves the chain free to try the next backend.
 */
import { probeNative as probe, registerNativeBackend as register } from '@arcal/native';

/** Whether the native addon loads, with a reason a user can act on. */
export function probeNative(): { ok: boolean; reason: string } {
  return probe();
}

/** Registers the `native` tfjs backend with `threads` OpenMP threads (does not switch to it). */
export function registerNativeBackend(threads: number): { ok: boolean; reason: string } {
  return register(threads);
}
