/**
 * Reads PostgreSQL binary COPY data back into rows, for tests of what the
 * normaliser and the table encoders write. Written from the PostgreSQL
 * documentation ("COPY", Binary Format, and each type's send function), not
 * from src/common/copy-binary.ts, so that the two can disagree.
 *
 * Values: text as a string, int4 and float8 as numbers, int8 as a bigint,
 * timestamptz as Unix microseconds (bigint), jsonb as the parsed JSON value,
 * NULL as null.
 */

export type ColumnType = 'text' | 'int4' | 'int8' | 'float8' | 'timestamptz' | 'jsonb';
export type Row = Record<string, unknown>;

/** The types of the columns Verdict writes by COPY, as sql/ declares them. */
export const COLUMN_TYPES: Readonly<Record<string, ColumnType>> = {
  // verdict.spans
  trace_id: 'text', span_id: 'text', parent_span_id: 'text', trace_state: 'text', name: 'text', kind: 'text',
  start_time: 'timestamptz', end_time: 'timestamptz', start_time_unix_nano: 'int8', end_time_unix_nano: 'int8', duration_ns: 'int8',
  status_code: 'text', status_message: 'text', flags: 'int8', service_name: 'text', scope_name: 'text', scope_version: 'text',
  scope_attributes: 'jsonb', resource_id: 'text', scope_schema_url: 'text',
  attributes: 'jsonb', events: 'jsonb', links: 'jsonb', dropped_attributes_count: 'int8', dropped_events_count: 'int8', dropped_links_count: 'int8',
  gen_ai_operation_name: 'text', gen_ai_provider_name: 'text', gen_ai_request_model: 'text', gen_ai_response_model: 'text', gen_ai_response_id: 'text',
  gen_ai_conversation_id: 'text', gen_ai_agent_name: 'text', gen_ai_tool_name: 'text', gen_ai_input_tokens: 'int8', gen_ai_output_tokens: 'int8',
  user_id: 'text', gen_ai_tool_call_id: 'text', gen_ai_system_instructions: 'jsonb', gen_ai_input_messages: 'jsonb', gen_ai_output_messages: 'jsonb',
  gen_ai_tool_call_arguments: 'jsonb', gen_ai_tool_call_result: 'jsonb', input_text: 'text', output_text: 'text', gen_ai_content_source: 'text',
  content_in_attributes: 'int4', attributes_in_columns: 'int4',
  // verdict.logs (columns not listed above)
  id: 'text', time: 'timestamptz', observed_time: 'timestamptz', time_unix_nano: 'int8', observed_time_unix_nano: 'int8',
  severity_number: 'int4', severity_text: 'text', event_name: 'text', body: 'jsonb',
  // verdict.evaluations
  response_id: 'text', conversation_id: 'text', score_value: 'float8', score_label: 'text', explanation: 'text', error_type: 'text',
  channel: 'text', source: 'text', polarity: 'text', correction: 'text',
  // staged user turns
  message_hash: 'text', message: 'text', rule: 'text', label: 'text',
};

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01T00:00:00Z in Unix microseconds: timestamptz counts from there. */
const PG_EPOCH_US = BigInt(Date.UTC(2000, 0, 1)) * 1000n;

class Cursor {
  pos = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  take(n: number): Buffer {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error(`COPY data ends early: wanted ${n} bytes at offset ${this.pos} of ${this.buf.length}`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  int16 = () => this.take(2).readInt16BE(0);
  int32 = () => this.take(4).readInt32BE(0);
}

/** A complete COPY stream (header, tuples, trailer) → rows with the given column names. */
export function readCopy(stream: Buffer | readonly Buffer[], columns: readonly string[]): Row[] {
  const c = new Cursor(Buffer.isBuffer(stream) ? stream : Buffer.concat(stream));
  const signature = c.take(SIGNATURE.length);
  if (!signature.equals(SIGNATURE)) throw new Error(`not a binary COPY stream: signature ${signature.toString('hex')}`);
  const flags = c.int32();
  if (flags !== 0) throw new Error(`unexpected header flags ${flags} (bit 16 would mean OIDs)`);
  c.take(c.int32()); // header extension, skipped as the documentation says
  const rows = readTuples(c, columns);
  if (c.pos !== c.buf.length) throw new Error(`${c.buf.length - c.pos} bytes after the trailer`);
  return rows;
}

function readTuples(c: Cursor, columns: readonly string[]): Row[] {
  const rows: Row[] = [];
  for (;;) {
    const fields = c.int16();
    if (fields === -1) return rows; // the trailer
    if (fields !== columns.length) throw new Error(`row ${rows.length} has ${fields} fields, expected ${columns.length}`);
    const row: Row = {};
    for (const name of columns) {
      const type = COLUMN_TYPES[name];
      if (!type) throw new Error(`no type known for column ${name}: add it to COLUMN_TYPES in test/helpers/copy-reader.ts`);
      const length = c.int32();
      row[name] = length === -1 ? null : decode(type, c.take(length), name);
    }
    rows.push(row);
  }
}

function decode(type: ColumnType, b: Buffer, name: string): unknown {
  const size = (n: number) => {
    if (b.length !== n) throw new Error(`${name}: ${type} must be ${n} bytes, got ${b.length}`);
  };
  switch (type) {
    case 'text':
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    case 'int4':
      size(4);
      return b.readInt32BE(0);
    case 'int8':
      size(8);
      return b.readBigInt64BE(0);
    case 'float8':
      size(8);
      return b.readDoubleBE(0);
    case 'timestamptz':
      size(8);
      return b.readBigInt64BE(0) + PG_EPOCH_US;
    case 'jsonb': {
      if (b[0] !== 1) throw new Error(`${name}: jsonb version byte must be 1, got ${b[0]}`);
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(1)));
    }
  }
}
