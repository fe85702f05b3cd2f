/**
 * RESULTS.md's opening: what ran where, and the set-up and hyperparameter table.
 */

import { partsLine } from '../parts.ts';
import type { Ctx } from './claims.ts';
import { done, type Summary, table } from './shared.ts';
import { selectionLabel } from './sweep.ts';

/** The machines and backends the summaries record, each with its number of experiments. */
export function ranOn(summaries: Summary[]): string {
  const count = new Map<string, number>();
  for (const s of summaries) {
    const m = s.machine;
    const where = m ? `${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Node ${m.node}` : 'an unrecorded machine';
    const key = `${where}; backend ${s.backend}${s.threads ? ` (${s.threads} threads)` : ''}`;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return [...count].map(([k, n]) => `${k} (${n} experiment${n === 1 ? '' : 's'})`).join('; ');
}

export function headerSection(ctx: Ctx): void {
  const { input, p, md } = ctx;
  const finished = done(input.experiments);
  const failed = input.experiments.filter((x) => x.error);
  const totalSeconds = finished.reduce((s, x) => s + x.summary.timings.totalSeconds, 0);
  md.push(
    `# Reproduction of the AR-AdaLS comparison on ${p.dataset.name === 'fashion-mnist' ? 'Fashion-MNIST' : p.dataset.name} (preset \`${p.name}\`)`,
    '',
    `Generated ${input.generatedAt} by \`npm run reproduce -- --preset ${p.name}\`. ${finished.length} of ${input.experiments.length} experiments finished` +
      `${input.awaitingChoice ? ` (${input.awaitingChoice} more are planned once the sweeps have chosen ε and α)` : ''}` +
      `${failed.length ? `, ${failed.length} failed` : ''}. Compute: ${(totalSeconds / 3600).toFixed(2)} h summed over the experiments' summaries ` +
      `(this invocation: ${(input.scriptSeconds / 60).toFixed(1)} min).`,
    '',
    ...(input.parts ? [partsLine(input.parts), ''] : []),
    `Experiments ran on ${ranOn(finished.map((x) => x.summary)) || 'no machine yet'}. ` +
      `This file was generated on ${input.machine.cpu}, ${input.machine.cores} cores, ${input.machine.memoryGb.toFixed(0)} GB, ${input.machine.os}, Node ${input.machine.node}; ` +
      `tensor backend ${input.machine.backend}${input.machine.threads ? ` (${input.machine.threads} threads)` : ''}. Data: ${input.dataSource ?? p.dataset.name}.`,
    '',
    `Every number and verdict below is computed from the per-experiment summaries in \`${input.dataDir ?? `data/${p.name}`}/\` ` +
      '(one JSON file per finished experiment: its seed, method, configuration, clean, per-subset, shift and OOD metrics and its per-epoch records), and can be re-derived from them alone.',
    '',
    'ECE, accuracy and confidence are in %, NLL in nats. Rows are mean ± sample standard deviation over seeds (single models and ensembles alike; an ensemble run is M members trained from one seed).',
  );
  if (failed.length)
    md.push('', '**Failed experiments:**', '', ...failed.map((x) => `- \`${x.planned.dir}\`: ${x.error}`));
}

export function setupSection(ctx: Ctx): void {
  const { p, md, lsEps } = ctx;
  md.push('', '## Setup and hyperparameters', '');
  md.push(
    'Marked † where the paper does not give the value (it trains CIFAR/ImageNet networks); the note says how it was chosen.',
    '',
  );
  const hp: string[][] = [
    [
      'data',
      `${p.dataset.name}: ${p.dataset.trainLimit} training, ${p.dataset.validationSize} validation${p.dataset.selectionSize ? ` (read by Eq. 3) and ${p.dataset.selectionSize} selection (choose ε and α only)` : ''} (disjoint seeded draws from the training file), first ${p.dataset.testLimit} test images${p.shiftLimit !== undefined && p.shiftLimit < p.dataset.testLimit ? ` (the corruption metrics on a fixed, seeded ${p.shiftLimit} of them)` : ''}`,
      '† sized for the compute budget',
    ],
    [
      'model',
      `\`${JSON.stringify(p.model)}\``,
      '† arcal reference network for 28×28×1 (the paper: ResNet-29 / WRN-28-10 / ResNet-101)',
    ],
    [
      'training',
      `${p.training.optimizer}, lr ${p.training.learningRate}, batch ${p.training.batchSize}, ${p.training.epochs} epochs, ${p.training.schedule ?? 'constant'} learning-rate schedule, last checkpoint`,
      '† chosen so the vanilla model fits its training set (~100 % accuracy), the over-confident regime the paper studies',
    ],
    [
      'seeds',
      `single models: ${p.seeds.join(', ')} (${p.seeds.length}); R sweep: ${p.rSeeds.join(', ')} (${p.rSeeds.length}); ensembles: ${p.ensembleSeeds.join(', ')} (${p.ensembleSeeds.length}), M = ${p.members}`,
      'paper: 4–5 runs per single model, one run per ensemble, M = 5; here every ensemble has several seeds so that its claims can be tested',
    ],
    [
      'label smoothing ε',
      `swept over {${p.lsEpsilons.join(', ')}}, selected by lowest ${selectionLabel(p)}${lsEps !== undefined ? `: ε = ${lsEps}` : ''}`,
      'paper: sweep, best validation (range † not given)',
    ],
    [
      'AdaLS / AR-AdaLS',
      `${p.alphas.length > 1 ? `α swept over {${p.alphas.join(', ')}} for each method, selected by lowest ${selectionLabel(p)} (AdaLS: α = ${ctx.alpha.adals ?? '–'}, AR-AdaLS: α = ${ctx.alpha.arAdals ?? '–'}; on-the-fly, the R sweep and the ensembles use the selected α; ${p.dataset.selectionSize ? 'the selection split is disjoint from the validation split Eq. 3 reads' : 'the validation split that chooses α is also the one Eq. 3 reads'})` : `α = ${p.alphas[0]}`}, R = ${p.subsets}, soft labels updated after every epoch, clipped to (1/Z, 1]`,
      'paper: R = 10, update each epoch; α †',
    ],
    [
      'adversarial robustness',
      `${p.attack.attack} (${p.attack.params.steps} steps), precomputed on a vanilla reference model of the same seed and settings; the on-the-fly variant starts from that reference ranking and re-attacks the model in training every ${p.onTheFlyEvery} epochs`,
      'paper: CW-L2; † FMN-L2 here (a minimal-L2 attack, cheaper); re-attack interval †',
    ],
    [
      'test robustness subsets',
      `${p.robustnessSubsets} subsets of the test set ranked by the vanilla reference model's robustness`,
      '† one ranking per seed shared by all methods of that seed, so subsets are comparable',
    ],
    ['mixup', `Beta(${p.mixupAlpha}, ${p.mixupAlpha})`, '† common value from Zhang et al. / Thulasidasan et al.'],
    [
      'CCAT',
      `ε∞ = ${p.ccat.epsilon}, ${p.ccat.steps} PGD steps of 2.5·ε/steps, ρ = ${p.ccat.rho}, half of each batch adversarial`,
      `† ε and ρ from Stutz et al. for MNIST; ${p.ccat.steps} steps instead of their longer attack, for time`,
    ],
    ['temperature scaling / Mix-n-Match', 'fitted on the validation split', 'paper: on hold-out validation data'],
    [
      'shift',
      `${p.corruptions.length} corruptions defined for 1-channel images × severities ${p.severities.join(', ')}`,
      'paper: CIFAR-10-C; frost and the colour-only corruptions do not apply',
    ],
    ['OOD', `${p.ood} test images`, 'paper: CIFAR-100 for CIFAR-10'],
    ['ECE', `${p.bins} equal-width bins`, '† bins not given'],
  ];
  md.push(table(['setting', 'value', 'source'], hp, 'text'));
}
