/**
 * What this build of arcal implements. A spec field that is valid but whose feature is missing is refused as
 * `not implemented: <json path>`; it is never silently replaced by something else.
 */
import type { ResolvedSpec } from '@arcal/contracts';

const NOT_BUILT_METHODS = new Set<string>([]);
const BUILT_OOD = new Set<string>(['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'svhn']);

export function unimplementedPaths(spec: ResolvedSpec, raw: any = spec): string[] {
  const out: string[] = [];
  if (NOT_BUILT_METHODS.has(spec.method.kind)) out.push('method.kind');
  if (spec.evaluation.corruptions.includes('frost'))
    out.push(`evaluation.corruptions.${spec.evaluation.corruptions.indexOf('frost')}`);
  if (raw?.evaluation?.ood && !BUILT_OOD.has(spec.evaluation.ood!.dataset)) out.push('evaluation.ood.dataset');
  return out;
}
