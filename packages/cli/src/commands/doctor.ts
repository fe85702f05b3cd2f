/** `arcal doctor`: which tensor backend would run, and why each other one is or is not available. */
import { probeBackends, ready } from '@arcal/core';
import type { ParsedArgs } from '../args.ts';

export async function doctorCommand(a: ParsedArgs): Promise<number> {
  const probes = await probeBackends();
  const info = await ready({ backend: typeof a.flags.backend === 'string' ? a.flags.backend : undefined });
  const rows = probes.map(
    (p) => `  ${p.name === info.name ? '▶' : p.available ? '✓' : '✗'} ${p.name.padEnd(14)} ${p.reason}`,
  );
  if (a.flags.json) {
    console.log(JSON.stringify({ active: info.name, threads: info.threads, backends: probes }));
    return 0;
  }
  console.log(`active backend: ${info.name} (${info.reason}; ${info.threads} threads)`);
  console.log('chain (first available wins; ARCAL_BACKEND forces one):');
  for (const r of rows) console.log(r);
  const native = probes.find((p) => p.name === 'native');
  if (native && !native.available)
    console.log('  to enable native kernels: apt-get install libdnnl-dev && npm run build:native');
  return 0;
}
