/** Pieces several pages draw: status badges, progress bars, Vega-Lite charts, and what "finished" means. */

import type { Chart } from '@arcal/charts';
import type { StudyView } from '@arcal/client';
import embed from 'vega-embed';
import { h } from './dom.ts';

/**
 * How often the lists re-read statuses and progress while something is unfinished: with the experiment
 * list's metric reads, at most (1 + 8) requests per 10 s stays well inside the API's default rate limit of
 * 120 requests per minute per key.
 */
export const LIST_REFRESH_MS = 10_000;

export const FINISHED = ['succeeded', 'failed', 'cancelled'];

export const finishedOf = (s: Pick<StudyView, 'counts'>) => s.counts.succeeded + s.counts.failed + s.counts.cancelled;

export function statusBadge(s: string) {
  return h('span', { class: `badge status-${s}`, 'data-status': s }, s);
}

export function progressBar(fraction: number, label: string) {
  const pct = Math.round(fraction * 100);
  return h(
    'div',
    {
      class: 'progress',
      role: 'progressbar',
      'aria-valuenow': pct,
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      title: label,
    },
    h('div', { class: 'fill', style: `width:${pct}%` }),
    h('span', {}, label),
  );
}

/** Embeds each chart into its own section of `container` (created on first use, redrawn in place after). */
export async function drawCharts(container: HTMLElement, charts: Chart[]): Promise<void> {
  await Promise.all(
    charts.map(async (c) => {
      let section = container.querySelector<HTMLElement>(`[data-chart="${c.name}"]`);
      if (!section) {
        // The spec carries the visible title (the same one the exported figures show).
        section = h(
          'section',
          { class: 'chart', 'data-chart': c.name, 'aria-label': c.title },
          h('div', { class: 'vis' }),
        );
        container.append(section);
      }
      section.removeAttribute('data-rendered');
      section.setAttribute('aria-label', c.title);
      const target = section.querySelector<HTMLElement>('.vis')!;
      const prior = (target as { _view?: { finalize(): void } })._view;
      prior?.finalize();
      const result = await embed(target, c.spec as never, { renderer: 'svg', actions: false });
      (target as { _view?: unknown })._view = result.view;
      section.setAttribute('data-rendered', '1');
    }),
  );
}
