/** `arcal report <id> [--format md|json] [--figures dir] [--out file]`: the stored report, with its figures. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { type ExperimentDetail, FINISHED_STATUSES } from '@arcal/client';
import { ArcalError } from '@arcal/contracts';
import { str } from '../../args.ts';
import { reportMarkdown } from './report-markdown.ts';
import { onePositional, type RemoteCommandModule } from './shared.ts';

const usage = 'arcal report <id> [--format md|json] [--figures dir] [--out file]';

interface Figure {
  name: string;
  title: string;
  svg: string;
  png?: string;
}

/** The dashboard's charts of the report as SVG (and PNG where resvg loads), paths relative to `relativeTo`. */
async function writeFigures(e: ExperimentDetail, dir: string, relativeTo: string): Promise<Figure[]> {
  const { reportCharts } = await import('@arcal/charts');
  const { chartToSvg, svgToPng } = await import('@arcal/charts/render');
  await mkdir(dir, { recursive: true });
  const out: Figure[] = [];
  for (const c of reportCharts(e.report!)) {
    const svg = await chartToSvg(c.spec);
    const svgPath = join(dir, `${c.name}.svg`);
    await writeFile(svgPath, svg);
    const png = await svgToPng(svg);
    let pngPath: string | undefined;
    if (png) {
      pngPath = join(dir, `${c.name}.png`);
      await writeFile(pngPath, png);
    }
    out.push({
      name: c.name,
      title: c.title,
      svg: relative(relativeTo, svgPath),
      ...(pngPath ? { png: relative(relativeTo, pngPath) } : {}),
    });
  }
  return out;
}

export default {
  usage,
  options: { string: ['format', 'figures', 'out'] },
  async run(a, client, io) {
    const id = onePositional(a, usage);
    const format = str(a, 'format') ?? 'md';
    if (format !== 'md' && format !== 'json')
      throw new ArcalError('INVALID_INPUT', `--format must be md or json, got "${format}"`);
    const e = await client.get(id);
    if (!e.report) {
      io.stderr.write(
        `arcal: experiment ${id} is ${e.status}; it has no report${FINISHED_STATUSES.includes(e.status) ? '' : ' yet'}\n`,
      );
      return 1;
    }
    const out = str(a, 'out');
    const figuresDir = str(a, 'figures');
    const figures = figuresDir ? await writeFigures(e, figuresDir, out ? dirname(out) : '.') : [];
    const text = format === 'json' ? `${JSON.stringify(e.report, null, 2)}\n` : reportMarkdown(e, figures);
    if (out) {
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, text);
      io.stderr.write(`wrote ${out}${figures.length ? ` and ${figures.length} figure(s) in ${figuresDir}` : ''}\n`);
    } else {
      io.stdout.write(text);
      if (figures.length) io.stderr.write(`wrote ${figures.length} figure(s) in ${figuresDir}\n`);
    }
    return 0;
  },
} satisfies RemoteCommandModule;
