/** An experiment's report as Markdown (`arcal report --format md`): the tables, then links to its figures. */
import type { ExperimentDetail, ExperimentView } from '@arcal/client';

const n4 = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '—');

/** The report as Markdown: summary, final metrics, members, per-subset, shift and OOD tables, figures, notes. */
export function reportMarkdown(
  e: ExperimentView & Pick<ExperimentDetail, 'report'>,
  figures: Array<{ title: string; svg: string }> = [],
): string {
  const r = e.report!;
  const md: string[] = [];
  const t = (head: string[], rows: string[][]) => {
    md.push(
      `| ${head.join(' | ')} |`,
      `|${head.map(() => '---').join('|')}|`,
      ...rows.map((x) => `| ${x.join(' | ')} |`),
      '',
    );
  };
  md.push(`# ${e.name}`, '');
  md.push(`- experiment: \`${e.id}\` (${e.status}, attempt ${e.attempt})`);
  md.push(
    `- method: ${e.spec?.method?.kind ?? '?'}; dataset: ${r.dataset?.name ?? e.spec?.dataset?.name ?? '?'}; model: ${e.spec?.model?.arch ?? '?'}; members: ${r.members?.length ?? 1}`,
  );
  if (r.dataset)
    md.push(`- data: train ${r.dataset.train}, validation ${r.dataset.validation}, test ${r.dataset.test}`);
  if (r.timings)
    md.push(
      `- time: ${r.timings.totalSeconds.toFixed(1)} s (train ${r.timings.trainSeconds.toFixed(1)}, attack ${r.timings.attackSeconds.toFixed(1)}, eval ${r.timings.evalSeconds.toFixed(1)}); backend ${r.backend}`,
    );
  md.push('', '## Test set', '');
  t(['accuracy', 'ECE', 'NLL', 'Brier'], [[n4(r.final.accuracy), n4(r.final.ece), n4(r.final.nll), n4(r.final.brier)]]);
  if (r.members?.length > 1) {
    md.push('## Members', '');
    t(
      ['member', 'seed', 'accuracy', 'ECE', 'NLL', 'Brier'],
      r.members.map((m) => [
        String(m.member),
        String(m.seed),
        n4(m.final.accuracy),
        n4(m.final.ece),
        n4(m.final.nll),
        n4(m.final.brier),
      ]),
    );
  }
  if (r.bySubset?.length) {
    md.push('## By robustness subset', '');
    t(
      ['subset', 'count', 'robustness', 'accuracy', 'confidence', 'ECE'],
      r.bySubset.map((s) => [
        String(s.subset),
        String(s.count),
        `${n4(s.minRobustness)}–${n4(s.maxRobustness)}`,
        n4(s.acc),
        n4(s.conf),
        n4(s.ece),
      ]),
    );
  }
  if (r.shift?.meanEceBySeverity?.length) {
    md.push('## Distribution shift', '');
    t(
      ['severity', 'corruptions', 'mean ECE'],
      r.shift.meanEceBySeverity.map((s) => [String(s.severity), String(s.corruptions), n4(s.meanEce)]),
    );
  }
  if (r.ood) {
    md.push('## Out of distribution', '');
    t(
      ['OOD set', 'in / out samples', 'AUROC (max prob)', 'AUROC (entropy)'],
      [[r.ood.dataset, `${r.ood.inCount} / ${r.ood.outCount}`, n4(r.ood.aurocMaxProb), n4(r.ood.aurocEntropy)]],
    );
  }
  if (figures.length) {
    md.push('## Figures', '');
    for (const f of figures) md.push(`![${f.title}](${f.svg.split('\\').join('/')})`, '');
  }
  if (r.notes?.length) {
    md.push('## Notes', '');
    for (const n of r.notes) md.push(`- ${n}`);
    md.push('');
  }
  return `${md.join('\n')}\n`;
}
