/** Placeholder until the oneDNN addon lands: reports the native backend as unavailable. */
export function probeNative(): { ok: boolean; reason: string } {
  return { ok: false, reason: 'native kernels are not built in this version' };
}
export function registerNativeBackend(_threads: number): { ok: boolean; reason: string } {
  return probeNative();
}
