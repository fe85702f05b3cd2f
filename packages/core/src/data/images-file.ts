/** A stand-alone images file for `arcal predict`: IDX (n×h×w or n×h×w×c, unsigned bytes), gzipped or not. */
import { ArcalError } from '@arcal/contracts';
import { gunzipIfNeeded, readDatasetFile } from './file-bytes.ts';
import { parseIdx } from './idx.ts';

export function readImagesFile(file: string): { x: Float32Array; n: number; shape: [number, number, number] } {
  const { dims, data } = parseIdx(gunzipIfNeeded(readDatasetFile(file), file), file);
  if (dims.length !== 3 && dims.length !== 4) {
    throw new ArcalError(
      'DATA_CORRUPT',
      `${file}: an images file has 3 or 4 dimensions (n×h×w[×c]), this one has ${dims.length}`,
    );
  }
  const x = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) x[i] = data[i] / 255;
  return { x, n: dims[0], shape: [dims[1], dims[2], dims[3] ?? 1] };
}
