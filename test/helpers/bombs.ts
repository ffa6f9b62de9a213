/** Nesting and compression bombs, built without holding what they inflate to. */
import zlib from 'node:zlib';

const MiB = 1024 * 1024;

/** `n` bytes of `ch` gzipped one MiB member at a time (concatenated gzip members are one valid gzip stream). */
function gzipRun(ch: string, n: number): Buffer[] {
  const member = zlib.gzipSync(Buffer.alloc(MiB, ch), { level: 9 });
  const parts: Buffer[] = [];
  for (let left = n; left > 0; left -= MiB) parts.push(left >= MiB ? member : zlib.gzipSync(Buffer.alloc(left, ch), { level: 9 }));
  return parts;
}

/** gzip of `n` × `open` then `n` × `close`: 2n bytes inflated, about n / 500 on the wire. */
export const bracketBomb = (open: string, close: string, n: number): Buffer => Buffer.concat([...gzipRun(open, n), ...gzipRun(close, n)]);

/**
 * A protobuf ExportTraceServiceRequest whose one attribute value nests `levels` deep:
 * resource_spans → resource → attributes → value, then AnyValue.array_value and ArrayValue.values by turns.
 */
export function protobufNestingBomb(levels: number): Buffer {
  const tags = [0x0a, 0x0a, 0x0a, 0x12];
  for (let i = 0; i < levels; i++) tags.push(i % 2 === 0 ? 0x2a : 0x0a);
  const varintLen = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5);
  const size = new Array<number>(tags.length + 1);
  size[tags.length] = 0;
  for (let i = tags.length - 1; i >= 0; i--) size[i] = 1 + varintLen(size[i + 1]!) + size[i + 1]!;
  const out = Buffer.alloc(size[0]!);
  let pos = 0;
  for (let i = 0; i < tags.length; i++) {
    out[pos++] = tags[i]!;
    let v = size[i + 1]!;
    while (v >= 0x80) {
      out[pos++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    out[pos++] = v;
  }
  return out;
}
