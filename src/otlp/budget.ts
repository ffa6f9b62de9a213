/**
 * A decode budget. A protobuf message costs as little as 2 bytes on the wire
 * (an empty span) but some 150–250 bytes as a decoded JavaScript object, and
 * a JSON `{}` about as much: a gzip bomb that stays under the body size limit
 * could still decode into gigabytes. Before decoding, a body that could hold
 * more messages than the budget allows is counted, cheaply and without
 * allocating, and refused (413) if it does. Bodies too small to exceed the
 * budget (nearly all) are not counted at all.
 */
import { getHeapStatistics } from 'node:v8';
import protobuf from 'protobufjs';
import { BadRequestError, TooLargeError } from '../errors.ts';

/** The deepest nesting of messages counted; as for OTLP/JSON (otlp/json.ts), far past what the normaliser stores. */
export const PROTOBUF_MAX_DEPTH = 4096;

/** Decoded heap bytes budgeted per message; a quarter of the heap may go to one request. */
const BYTES_PER_MESSAGE = 256;
export const MESSAGE_BUDGET = Math.floor(getHeapStatistics().heap_size_limit / 4 / BYTES_PER_MESSAGE);

const fieldsCache = new Map<protobuf.Type, Map<number, protobuf.Type>>();

function messageFields(t: protobuf.Type): Map<number, protobuf.Type> {
  let m = fieldsCache.get(t);
  if (!m) {
    m = new Map();
    for (const f of t.fieldsArray) if (f.resolvedType instanceof protobuf.Type) m.set(f.id, f.resolvedType);
    fieldsCache.set(t, m);
  }
  return m;
}

/**
 * Counts the messages in protobuf `bytes` of type `root`, stopping at `max`.
 * Malformed input stops the count early; the decoder reports it properly.
 * Nesting deeper than PROTOBUF_MAX_DEPTH throws (400) at once.
 */
export function countProtobufMessages(bytes: Uint8Array, root: protobuf.Type, max: number): number {
  let count = 1;
  const stack: Array<{ end: number; type: protobuf.Type }> = [{ end: bytes.length, type: root }];
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= bytes.length || shift > 49) return -1;
      const b = bytes[pos++] as number;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (pos >= top.end) {
      stack.pop();
      continue;
    }
    const tag = varint();
    if (tag < 0) return count;
    const wire = tag % 8;
    if (wire === 0) {
      if (varint() < 0) return count;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = varint();
      if (len < 0 || pos + len > top.end) return count;
      const child = messageFields(top.type).get(Math.floor(tag / 8));
      if (child) {
        if (++count > max) return count;
        if (stack.length >= PROTOBUF_MAX_DEPTH) throw new BadRequestError(`request body nests messages deeper than ${PROTOBUF_MAX_DEPTH} levels (the protobuf depth limit)`);
        stack.push({ end: pos + len, type: child });
      } else pos += len;
    } else return count;
  }
  return count;
}

/**
 * Refuses a protobuf body that would decode into more messages than the
 * budget. (JSON bodies are scanned by the JSON decoder itself, for depth and
 * values alike: otlp/json.ts, common/json-budget.ts.)
 */
export function checkDecodeBudget(bytes: Uint8Array, root: protobuf.Type, budget = MESSAGE_BUDGET): void {
  // A message takes at least 2 bytes: smaller bodies cannot exceed the budget.
  if (bytes.length / 2 <= budget) return;
  const n = countProtobufMessages(bytes, root, budget);
  if (n > budget) {
    throw new TooLargeError(`request holds more than ${budget} messages (the decode budget of this receiver's heap); send smaller batches`);
  }
}
