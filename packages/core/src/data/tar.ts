/**
 * Just enough of the POSIX tar format to take named regular files out of an archive held in memory (the
 * CIFAR archives): 512-byte headers (name 0–99, size in octal 124–135, header checksum 148–155, type 156,
 * ustar prefix 345–499), GNU long names (type `L`) and pax `path=` records (type `x`). No I/O.
 */
import { ArcalError } from '@arcal/contracts';

const BLOCK = 512;
const dec = new TextDecoder();

const cstring = (b: Uint8Array, off: number, len: number): string => {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return dec.decode(end < 0 ? s : s.subarray(0, end));
};

const octal = (b: Uint8Array, off: number, len: number): number => {
  const t = cstring(b, off, len).trim();
  return t === '' ? 0 : Number.parseInt(t, 8);
};

/**
 * The regular files of the tar archive `bytes` whose paths are in `wanted` (leading `./` ignored), as views
 * into `bytes`. A damaged header (bad checksum, bad size) or a member running past the end → DATA_CORRUPT naming `file`.
 */
export function tarMembers(bytes: Uint8Array, file: string, wanted: string[]): Map<string, Uint8Array> {
  const want = new Set(wanted);
  const out = new Map<string, Uint8Array>();
  let off = 0;
  let longName: string | undefined;
  while (off + BLOCK <= bytes.length) {
    const h = bytes.subarray(off, off + BLOCK);
    if (h.every((v) => v === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== octal(h, 148, 8))
      throw new ArcalError('DATA_CORRUPT', `${file}: damaged tar header at byte ${off} (checksum mismatch)`);
    const size = octal(h, 124, 12);
    if (!Number.isFinite(size) || size < 0)
      throw new ArcalError('DATA_CORRUPT', `${file}: bad member size in tar header at byte ${off}`);
    const type = String.fromCharCode(h[156] || 48);
    const dataStart = off + BLOCK;
    if (dataStart + size > bytes.length)
      throw new ArcalError('DATA_CORRUPT', `${file}: truncated tar archive (member at byte ${off} runs past the end)`);
    const data = bytes.subarray(dataStart, dataStart + size);
    const prefix = cstring(h, 257, 6) === 'ustar' ? cstring(h, 345, 155) : '';
    let name = longName ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
    longName = undefined;
    if (type === 'L') {
      longName = dec.decode(data).replace(/\0+$/, '');
    } else if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(dec.decode(data));
      if (m) longName = m[1];
    } else if (type === '0' || type === '7') {
      name = name.replace(/^\.\//, '');
      if (want.has(name)) out.set(name, data);
    }
    off = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
