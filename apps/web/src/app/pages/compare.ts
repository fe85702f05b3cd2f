/** #/compare/<id>,<id>… : several experiments side by side, and their reports' charts overlaid. */
import { compareCharts } from '@arcal/charts';
import { client, root } from '../context.ts';
import { clear, fmt, h } from '../dom.ts';
import { drawCharts, statusBadge } from '../widgets.ts';

export async function comparePage(ids: string[]): Promise<void> {
  const items = await Promise.all(ids.map((id) => client.get(id)));
  clear(root);
  const withReport = items.filter((e) => e.report);
  const table = h(
    'table',
    { id: 'compare-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['name', 'status', 'method', 'dataset', 'accuracy', 'ECE', 'NLL', 'Brier'].map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      ...items.map((e) =>
        h(
          'tr',
          { 'data-id': e.id },
          h('td', {}, h('a', { href: `#/e/${e.id}` }, e.name)),
          h('td', {}, statusBadge(e.status)),
          h('td', {}, String(e.spec?.method?.kind ?? '—')),
          h('td', {}, String(e.spec?.dataset?.name ?? '—')),
          h('td', {}, fmt(e.report?.final.accuracy)),
          h('td', {}, fmt(e.report?.final.ece)),
          h('td', {}, fmt(e.report?.final.nll)),
          h('td', {}, fmt(e.report?.final.brier)),
        ),
      ),
    ),
  );
  const charts = h('div', { class: 'charts', id: 'charts' });
  root.append(
    h('p', {}, h('a', { href: '#/' }, '← experiments')),
    h('h2', {}, `Compare ${items.length} experiments`),
    table,
    charts,
  );
  if (withReport.length < items.length)
    root.append(
      h('p', { class: 'muted' }, `${items.length - withReport.length} without a report yet (not in the charts).`),
    );
  // Names may repeat: the chart key adds the id's head.
  const names = new Map(
    withReport.map((e) => [
      e.id,
      withReport.filter((o) => o.name === e.name).length > 1 ? `${e.name} (${e.id.slice(0, 8)})` : e.name,
    ]),
  );
  if (withReport.length)
    await drawCharts(charts, compareCharts(withReport.map((e) => ({ name: names.get(e.id)!, report: e.report! }))));
}
