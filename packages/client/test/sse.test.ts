import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readSse, SseParser } from '../src/sse.ts';

describe('SseParser', () => {
  it('dispatches on blank lines, joins data lines, keeps the last id, ignores comments', () => {
    const p = new SseParser();
    const text =
      ': keep-alive\n\nid: 1\nevent: snapshot\ndata: {"a":1}\n\ndata: line one\ndata: line two\n\nid: 7\nevent: end\ndata:{}\n\n';
    expect(p.push(text)).toEqual([
      { event: 'snapshot', data: '{"a":1}', id: '1' },
      // No event field: the spec's default type; the id persists from the previous event.
      { event: 'message', data: 'line one\nline two', id: '1' },
      { event: 'end', data: '{}', id: '7' },
    ]);
  });

  it('accepts CRLF and CR line ends, including a CRLF split across chunks', () => {
    const p = new SseParser();
    expect(p.push('event: a\r\ndata: x\r')).toEqual([]);
    expect(p.push('\n\r\nevent: b\rdata: y\r\r\n')).toEqual([
      { event: 'a', data: 'x' },
      { event: 'b', data: 'y' },
    ]);
  });

  it('gives the same events however the stream is cut into chunks', () => {
    const events = [
      { event: 'status', data: '{"status":"running"}' },
      { event: 'epoch', data: '{"epoch":3,"record":{"trainLoss":0.5}}' },
      { event: 'end', data: '{"status":"succeeded"}' },
    ];
    const text = events.map((e) => `: c\nevent: ${e.event}\ndata: ${e.data}\n\n`).join('');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set([0, ...cuts, text.length])].sort((a, b) => a - b);
        const p = new SseParser();
        const got = [];
        for (let i = 1; i < points.length; i++) got.push(...p.push(text.slice(points[i - 1], points[i])));
        expect(got).toEqual(events);
      }),
    );
  });

  it('readSse decodes UTF-8 split inside a character across byte chunks', async () => {
    const bytes = new TextEncoder().encode('event: log\ndata: σ² ≥ 0 ✓\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
        c.close();
      },
    });
    const out = [];
    for await (const e of readSse(body)) out.push(e);
    expect(out).toEqual([{ event: 'log', data: 'σ² ≥ 0 ✓' }]);
  });
});
