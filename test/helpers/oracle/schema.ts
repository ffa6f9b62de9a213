/**
 * Field tables for the oracle's decoders: one table per message, read by
 * both the protobuf reader (field numbers, types) and the OTLP/JSON reader
 * (names, types). The decoded form is a plain object per message, keyed by
 * each field's lowerCamelCase name, every field present with its proto3
 * default unless it belongs to a oneof (then only the member that is set).
 */

export type Scalar = 'string' | 'bytes' | 'bool' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'fixed32' | 'fixed64' | 'double';

export type FieldType =
  | { kind: 'scalar'; scalar: Scalar }
  /** A trace or span ID: `bytes` on the wire, hex in OTLP/JSON (OTLP spec, "JSON Protobuf Encoding"). */
  | { kind: 'id'; size: 8 | 16 }
  /** An open proto3 enum: any int32 is kept; the names are for JSON. */
  | { kind: 'enum'; names: Readonly<Record<string, number>> }
  | { kind: 'message'; of: () => Message };

export interface Field {
  no: number;
  /** The .proto name (snake_case). */
  name: string;
  /** lowerCamelCase, the proto3 JSON name and the decoded object's key. */
  key: string;
  type: FieldType;
  repeated: boolean;
  oneof?: string;
  /**
   * On the wire, read this oneof member like a proto3 `optional` field: kept
   * alongside any other member seen, instead of replacing it (JSON still
   * allows one member). Verdict's documented reading of AnyValue.
   */
  keptOnWire?: boolean;
}

export interface Message {
  name: string;
  fields: readonly Field[];
  byNo: ReadonlyMap<number, Field>;
}

/** A decoded message. */
export type Decoded = Record<string, any>;

/** An ID present in OTLP/JSON that is neither hex nor base64 of its size: the item carrying it is rejected, not the request. */
export class InvalidId {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** proto3 JSON: the field name with each `_x` turned into `X`. */
export const lowerCamel = (name: string): string => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

type FieldOptions = { repeated?: boolean; oneof?: string; keptOnWire?: boolean };

export function message(name: string, fields: Array<[no: number, name: string, type: FieldType, opts?: FieldOptions]>): Message {
  const list: Field[] = fields.map(([no, fname, type, opts]) => ({ no, name: fname, key: lowerCamel(fname), type, repeated: opts?.repeated ?? false, ...opts }));
  return { name, fields: list, byNo: new Map(list.map((f) => [f.no, f])) };
}

export const scalar = (s: Scalar): FieldType => ({ kind: 'scalar', scalar: s });
export const msg = (of: () => Message): FieldType => ({ kind: 'message', of });

const EMPTY = new Uint8Array(0);

function defaultOf(f: Field): unknown {
  if (f.repeated) return [];
  switch (f.type.kind) {
    case 'message': return null;
    case 'id': return EMPTY;
    case 'enum': return 0;
    default:
      switch (f.type.scalar) {
        case 'string': return '';
        case 'bytes': return EMPTY;
        case 'bool': return false;
        case 'int64': case 'uint64': case 'fixed64': return 0n;
        default: return 0;
      }
  }
}

/** A message with every field at its default (oneof members absent). */
export function empty(m: Message): Decoded {
  const o: Decoded = {};
  for (const f of m.fields) if (!f.oneof) o[f.key] = defaultOf(f);
  return o;
}
