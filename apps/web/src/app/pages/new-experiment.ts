/** #/new : submit a spec; problems come back by path, and an over-budget answer shows its estimate. */
import { isApiError } from '@arcal/client';
import { client, root } from '../context.ts';
import { clear, h } from '../dom.ts';
import { showError } from '../session.ts';

/**
 * The spec the form starts with: AR-AdaLS (R = 2, ranked by FMN) on the built-in synthetic data, an MLP, two
 * epochs, and one corruption at two severities; a worker finishes it in seconds and it fills every figure but
 * the OOD histograms (those need a real out-of-distribution dataset).
 */
const STARTER_SPEC = {
  name: 'dashboard-demo',
  seed: 7,
  dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 128, validationSize: 64, testLimit: 64 },
  model: { arch: 'mlp' },
  training: { epochs: 2, batchSize: 32, optimizer: 'sgd', learningRate: 0.05 },
  method: {
    kind: 'ar-adals',
    subsets: 2,
    alpha: 1,
    robustness: { attack: 'fmn-l2', params: { steps: 10, batchSize: 32 } },
  },
  evaluation: { bins: 10, robustnessSubsets: 2, corruptions: ['gaussian_noise'], severities: [1, 3] },
};

/** What was last typed into the form (kept in memory only, so leaving and coming back keeps the edit). */
let draft: string | undefined;

/** The 422 answer's estimate, readably: seconds against the budget, and what they were computed from. */
function estimateTable(est: Record<string, unknown>) {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const seconds = num(est.seconds);
  const budget = num(est.budgetSeconds);
  const flops = (est.flops ?? {}) as Record<string, unknown>;
  const examples = (est.examples ?? {}) as Record<string, unknown>;
  const rows: Array<[string, string]> = [
    ['estimated CPU-seconds', seconds === undefined ? '—' : String(Math.round(seconds))],
    ['budget (CPU-seconds)', budget === undefined ? '—' : String(Math.round(budget))],
  ];
  if (seconds !== undefined && budget) rows.push(['over the budget by', `${(seconds / budget).toFixed(1)}×`]);
  if (num(flops.total) !== undefined) rows.push(['FLOPs in all', (flops.total as number).toExponential(2)]);
  const ex = ['train', 'validation', 'test'].filter((k) => num(examples[k]) !== undefined);
  if (ex.length) rows.push(['examples', ex.map((k) => `${k} ${examples[k]}`).join(', ')]);
  return h(
    'table',
    { class: 'summary', id: 'estimate' },
    h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))),
  );
}

export async function newExperimentPage(): Promise<void> {
  // One cheap read, so that an expired session asks for a key before anything is typed.
  await client.list({ limit: 1 });
  clear(root);
  const text = h('textarea', {
    id: 'spec',
    name: 'spec',
    rows: 26,
    cols: 90,
    spellcheck: 'false',
    'aria-label': 'experiment spec (JSON)',
  });
  text.value = draft ?? JSON.stringify(STARTER_SPEC, null, 2);
  text.addEventListener('input', () => {
    draft = text.value;
  });
  const submit = h('button', { type: 'submit', id: 'submit-spec' }, 'Submit');
  const reset = h('button', { type: 'button', id: 'reset-spec' }, 'Start again from the example');
  const outcome = h('div', { id: 'submit-outcome', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'new-experiment' },
    h('label', { for: 'spec' }, 'Experiment spec (JSON; the same document arcal submit and arcal run take)'),
    h('div', {}, text),
    h('div', { class: 'toolbar' }, submit, reset),
    outcome,
  );
  const fail = (message: string, ...more: Node[]) => {
    clear(outcome);
    outcome.append(h('div', { class: 'error', role: 'alert', id: 'submit-error' }, message), ...more);
  };
  reset.addEventListener('click', () => {
    draft = undefined;
    text.value = JSON.stringify(STARTER_SPEC, null, 2);
    clear(outcome);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let spec: unknown;
    try {
      spec = JSON.parse(text.value);
    } catch (e) {
      fail(`The spec is not valid JSON: ${(e as Error).message}. Nothing was submitted.`);
      return;
    }
    submit.disabled = true;
    clear(outcome);
    outcome.append(h('p', { class: 'muted' }, 'Submitting…'));
    try {
      const s = await client.submit(spec);
      draft = undefined;
      location.hash = `#/e/${s.id}`;
    } catch (e) {
      submit.disabled = false;
      if (!isApiError(e)) {
        fail(String((e as Error)?.message ?? e));
      } else if (e.code === 'UNAUTHORIZED') {
        showError(e);
      } else if (e.status === 400 && e.details.length) {
        fail(
          e.describe(),
          h(
            'ul',
            { id: 'problems' },
            ...e.details.map((d) =>
              h('li', { 'data-path': d.path }, h('code', {}, d.path || '(the spec)'), ` ${d.message}`),
            ),
          ),
        );
      } else if (e.status === 422 && e.body.estimate && typeof e.body.estimate === 'object') {
        fail(e.describe(), estimateTable(e.body.estimate as Record<string, unknown>));
      } else {
        fail(e.describe());
      }
    }
  });
  root.append(
    h('p', {}, h('a', { href: '#/' }, '← experiments')),
    h('h2', {}, 'New experiment'),
    h(
      'p',
      { class: 'muted' },
      'The example below is a small AR-AdaLS run on synthetic data that a worker finishes in seconds; edit it or paste your own spec. The service checks it and answers with every problem it finds, or with its cost estimate when that is over the budget.',
    ),
    form,
  );
}
