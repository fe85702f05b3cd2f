/** #/ : the experiments, searchable and filterable, with live progress; pick two or more to compare. */
import { type ExperimentStatus, type ExperimentView, progressOf } from '@arcal/client';
import { client, pageSignal, root } from '../context.ts';
import { age, clear, h } from '../dom.ts';
import { showError } from '../session.ts';
import { LIST_REFRESH_MS, progressBar, statusBadge } from '../widgets.ts';

const STATUSES: ExperimentStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled'];

/** For how many running experiments a refresh reads metrics (one request each). */
const PROGRESS_READS = 8;

/** Experiments with their progress; progress of running ones comes from their per-epoch metrics (a few requests). */
async function loadList(): Promise<{ items: ExperimentView[]; progress: Map<string, ReturnType<typeof progressOf>> }> {
  const items = await client.listAll({ max: 500 });
  const progress = new Map<string, ReturnType<typeof progressOf>>();
  await Promise.all(
    items
      .filter((e) => e.status === 'running' || e.status === 'cancelling')
      .slice(0, PROGRESS_READS)
      .map(async (e) => progress.set(e.id, progressOf(e, (await client.metrics(e.id)).epochs))),
  );
  for (const e of items) if (!progress.has(e.id)) progress.set(e.id, progressOf(e, []));
  return { items, progress };
}

export async function experimentsPage(): Promise<void> {
  const signal = pageSignal();
  let { items, progress } = await loadList();

  clear(root);
  const search = h('input', { type: 'search', id: 'search', placeholder: 'search name, id, method, dataset' });
  const statusSel = h(
    'select',
    { id: 'status-filter' },
    h('option', { value: '' }, 'any status'),
    ...STATUSES.map((s) => h('option', { value: s }, s)),
  );
  const compareBtn = h('button', { id: 'compare', disabled: true }, 'Compare selected');
  const tbody = h('tbody');
  const selected = new Set<string>();
  const table = h(
    'table',
    { id: 'experiments' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, ''),
        h('th', {}, 'name'),
        h('th', {}, 'status'),
        h('th', {}, 'method'),
        h('th', {}, 'dataset'),
        h('th', {}, 'progress'),
        h('th', {}, 'age'),
      ),
    ),
    tbody,
  );
  const count = h('p', { class: 'muted', id: 'count' });

  const render = () => {
    clear(tbody);
    const q = search.value.trim().toLowerCase();
    const st = statusSel.value;
    const shown = items.filter((e) => {
      if (st && e.status !== st) return false;
      if (!q) return true;
      return [e.name, e.id, e.spec?.method?.kind, e.spec?.dataset?.name].some((v) =>
        String(v ?? '')
          .toLowerCase()
          .includes(q),
      );
    });
    for (const e of shown) {
      const p = progress.get(e.id)!;
      const box = h('input', { type: 'checkbox', 'aria-label': `select ${e.name}`, checked: selected.has(e.id) });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(e.id);
        else selected.delete(e.id);
        compareBtn.disabled = selected.size < 2;
      });
      tbody.append(
        h(
          'tr',
          { 'data-id': e.id },
          h('td', {}, box),
          h('td', {}, h('a', { href: `#/e/${e.id}` }, e.name)),
          h('td', {}, statusBadge(e.status)),
          h('td', {}, String(e.spec?.method?.kind ?? '—')),
          h('td', {}, String(e.spec?.dataset?.name ?? '—')),
          h('td', {}, progressBar(p.fraction, e.status === 'succeeded' ? 'done' : `${p.done}/${p.total} epochs`)),
          h('td', { title: e.createdAt }, age(e.createdAt)),
        ),
      );
    }
    count.textContent = `${shown.length} of ${items.length} experiments`;
  };
  search.addEventListener('input', render);
  statusSel.addEventListener('change', render);
  compareBtn.addEventListener('click', () => {
    location.hash = `#/compare/${[...selected].join(',')}`;
  });
  root.append(h('h2', {}, 'Experiments'), h('div', { class: 'toolbar' }, search, statusSel, compareBtn), count, table);
  render();
  // Keep statuses and progress current while something is unfinished; only the rows are redrawn, so the
  // search text, filter and selection stay.
  const unfinished = () => items.some((e) => !['succeeded', 'failed', 'cancelled'].includes(e.status));
  const timer = setInterval(async () => {
    if (signal.aborted) return clearInterval(timer);
    if (!unfinished()) return;
    try {
      ({ items, progress } = await loadList());
      if (!signal.aborted) render();
    } catch (e) {
      clearInterval(timer);
      if (!signal.aborted) showError(e);
    }
  }, LIST_REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
