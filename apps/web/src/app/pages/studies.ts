/** #/studies : every study with how many of its experiments have finished. */
import { client, pageSignal, root } from '../context.ts';
import { age, clear, h } from '../dom.ts';
import { showError } from '../session.ts';
import { FINISHED, finishedOf, LIST_REFRESH_MS, progressBar, statusBadge } from '../widgets.ts';

export async function studiesPage(): Promise<void> {
  const signal = pageSignal();
  let items = await client.listAllStudies({ max: 200 });
  clear(root);
  const tbody = h('tbody');
  const count = h('p', { class: 'muted', id: 'study-count' });
  const table = h(
    'table',
    { id: 'studies' },
    h(
      'thead',
      {},
      h('tr', {}, ...['name', 'status', 'experiments finished', 'varied', 'age'].map((c) => h('th', {}, c))),
    ),
    tbody,
  );
  const render = () => {
    clear(tbody);
    for (const s of items) {
      const done = finishedOf(s);
      tbody.append(
        h(
          'tr',
          { 'data-id': s.id },
          h('td', {}, h('a', { href: `#/s/${s.id}` }, s.name)),
          h('td', {}, statusBadge(s.status)),
          h('td', {}, progressBar(s.counts.total ? done / s.counts.total : 0, `${done}/${s.counts.total}`)),
          h('td', {}, s.varied.join(', ') || '—'),
          h('td', { title: s.createdAt }, age(s.createdAt)),
        ),
      );
    }
    count.textContent = `${items.length} studies`;
  };
  root.append(
    h('h2', {}, 'Studies'),
    h(
      'p',
      { class: 'muted' },
      'A study runs one experiment per grid point: arcal study <file> --remote, or POST /v1/studies.',
    ),
    count,
    table,
  );
  render();
  const timer = setInterval(async () => {
    if (signal.aborted) return clearInterval(timer);
    if (items.every((s) => FINISHED.includes(s.status))) return;
    try {
      items = await client.listAllStudies({ max: 200 });
      if (!signal.aborted) render();
    } catch (e) {
      clearInterval(timer);
      if (!signal.aborted) showError(e);
    }
  }, LIST_REFRESH_MS);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
