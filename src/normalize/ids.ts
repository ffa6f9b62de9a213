/** Trace and span IDs: validation and the lowercase-hex form stored in Postgres. */
import { UndecodableId } from '../otlp/json.ts';
import { RejectedItem } from './rejections.ts';

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function describe(field: string, b: Uint8Array, size: number): string {
  if (b instanceof UndecodableId) return `${field} ${JSON.stringify(b.text.slice(0, 64))} is neither hex nor base64`;
  if (b.length === 0) return `${field} is missing`;
  if (b.length !== size) return `${field} must be ${size} bytes, got ${b.length}`;
  return `${field} must not be all zeros`;
}

/** A required ID (span trace_id/span_id): hex, or a RejectedItem naming what is wrong. */
export function requiredId(b: Uint8Array, size: 16 | 8, field: string): string {
  if (b.length === size && !isZero(b)) return hex(b);
  throw new RejectedItem(describe(field, b, size));
}

/**
 * An optional ID (parent_span_id, log trace context): null when absent or all
 * zeros, which OTLP defines as "no parent" / "not associated with a trace";
 * rejected when present but garbled or of the wrong length.
 */
export function optionalId(b: Uint8Array, size: 16 | 8, field: string): string | null {
  if (b instanceof UndecodableId || (b.length !== 0 && b.length !== size)) throw new RejectedItem(describe(field, b, size));
  if (b.length === 0 || isZero(b)) return null;
  return hex(b);
}
