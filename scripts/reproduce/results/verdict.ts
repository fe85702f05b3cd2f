/**
 * The closing sections: the verdicts on the paper's claims (Holm across them) with the set-up checks, and what
 * was left out.
 */
import { studentTQuantile } from '../stats.ts';
import { ALPHA, type Judged, judgeClaims } from '../verdicts.ts';
import type { Ctx } from './claims.ts';
import { ACCURACY_MARGIN, fmtP, strip, table } from './shared.ts';

export function verdictSection(ctx: Ctx): Judged[] {
  const { md, p } = ctx;
  md.push('', "## 10. Do the paper's claims hold here?", '');
  const judged = judgeClaims(ctx.claims);
  const tested = judged.filter((j) => j.p !== undefined).length;
  md.push(
    `Each claim is judged on paired per-seed differences (the same seed means the same data split and the same vanilla reference model, hence the same robustness subsets): a two-sided paired t-test of a zero mean difference, with Holm's correction across the ${tested} claims that have at least two pairs, at a family-wise level of ${ALPHA}. ` +
      '**holds**: the Holm-adjusted p is below it and the difference has the sign the paper states; **reversed**: below it with the opposite sign; **inconclusive**: not below it (or fewer than two pairs). ' +
      `"Within ±${(100 * ACCURACY_MARGIN).toFixed(0)} pp" is an equivalence statement (the paper's "no significant change in accuracy"): it holds when two one-sided t-tests show the paired accuracy change lies inside ±${(100 * ACCURACY_MARGIN).toFixed(0)} percentage points, and is reversed when a change beyond the margin is significant. ` +
      '"In every subset" claims test each subset over seeds: they hold only when every subset is significant in the stated direction (the weakest subset\'s p is shown) and are reversed when a subset is significant the other way (its p times the number of subsets). ' +
      '"Rises/falls with robustness" claims test the per-seed least-squares slope across the subsets.',
    '',
    `Seeds per comparison: ${p.seeds.length} for single models, ${p.ensembleSeeds.length} for each ensemble, ${p.rSeeds.length} for the R sweep (the "pairs" column gives each claim's count). ` +
      `With n pairs the 95 % interval is ±t₀.₉₇₅(n − 1)·se: ${[
        ...new Set([p.seeds.length, p.ensembleSeeds.length, p.rSeeds.length, 3]),
      ]
        .filter((n) => n >= 2)
        .sort((a, b) => b - a)
        .map((n) => `t₀.₉₇₅(${n - 1}) = ${studentTQuantile(0.975, n - 1).toFixed(2)} at ${n} seeds`)
        .join(', ')}. ` +
      `With the Holm correction over ${tested} claims on top, a claim resting on 3 seeds (the ensembles, the R sweep) is inconclusive unless its effect is many times the seed-to-seed spread, so expect many of those to be inconclusive; a claim with fewer than two seeds cannot be tested at all. Inconclusive means "not shown here", not "false".`,
    '',
  );
  md.push(
    table(
      ['claim', 'paper', 'pairs', 'mean difference [95 % CI]', 'p', 'Holm p', 'here', 'numbers'],
      judged.map((j) => [
        j.text,
        j.source,
        String(j.n),
        j.stat
          ? `${j.format(j.stat.mean)} [${strip(j.format(j.stat.ci[0]))}, ${strip(j.format(j.stat.ci[1]))}]${j.part ? ` (${j.part})` : ''}`
          : '–',
        fmtP(j.p),
        fmtP(j.pHolm),
        j.verdict === 'holds'
          ? 'holds'
          : j.verdict === 'reversed'
            ? '**reversed**'
            : j.p === undefined
              ? 'inconclusive (not tested: fewer than two pairs)'
              : 'inconclusive',
        `${j.evidence}${j.note ? `; ${j.note}` : ''}`,
      ]),
      'text',
    ),
  );
  const count = (v: Judged['verdict']) => judged.filter((j) => j.verdict === v).length;
  // claims without two pairs yet (a reproduction that has not finished) are inconclusive for want of data
  const untested = judged.filter((j) => j.p === undefined).length;
  const are = (n: number) => `${n} ${n === 1 ? 'is' : 'are'}`;
  md.push(
    '',
    `${count('holds')} of ${judged.length} claims hold, ${are(count('reversed'))} reversed, ${are(count('inconclusive'))} inconclusive` +
      `${untested ? ` (${untested} of them not tested: their experiments have fewer than two paired seeds so far)` : ''}.`,
  );
  // The same verdicts grouped, so a reader sees at a glance which of the paper's statements this data supports.
  for (const [v, label] of [
    ['holds', 'Hold'],
    ['reversed', 'Reversed'],
    ['inconclusive', 'Inconclusive'],
  ] as const) {
    const texts = judged.filter((j) => j.verdict === v).map((j) => j.text);
    if (texts.length) md.push('', `- **${label}** (${texts.length}): ${texts.join('; ')}.`);
  }
  md.push('', '### Set-up checks (not claims; not counted above)', '');
  md.push(
    table(
      ['check', 'here', 'numbers'],
      ctx.checks.map((c) => [c.text, c.result, c.evidence]),
      'text',
    ),
  );
  return judged;
}

export function leftOutSection(ctx: Ctx): void {
  ctx.md.push('', '## Left out', '');
  ctx.md.push(
    [
      '- CIFAR-10/100 and ImageNet: this reproduction runs on 28×28 grey images with the networks above; colour-only corruptions (saturate) and frost do not apply.',
      '- Mix-n-Match here is fitted by arcal on the validation split (the paper copies a published number).',
      '- "ECE is relatively stable for R in [10, 16]" (Fig. 5) is shown in the table of §8 but not judged.',
    ].join('\n'),
  );
}
