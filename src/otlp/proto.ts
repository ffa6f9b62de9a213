/**
 * Loads Verdict's own `.proto` files (in `proto/`) once with protobufjs and
 * exposes the few message types the receiver decodes and encodes.
 *
 * Nothing is generated: the files are parsed at start-up, so the wire format
 * is whatever `proto/` says.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { PROTOBUF_MAX_DEPTH } from './budget.ts';
import type { ExportLogsServiceRequest, ExportTraceServiceRequest } from './types.ts';

export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

const FILES = [
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'google/rpc/status.proto',
  'google/rpc/error_details.proto',
];

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // google/protobuf/{any,duration}.proto are protobufjs's bundled common types.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : PROTO_DIR + target);
  root.loadSync(FILES, { keepCase: false });
  root.resolveAll();
  acceptInvalidUtf8(root);
  return root;
}

/**
 * proto3 strings must be UTF-8, and protobufjs 8 verifies that in JavaScript,
 * failing the whole message on one bad byte. Verdict would rather store the
 * request with U+FFFD in place of invalid sequences (what a UTF-8 decoder
 * does, and what Postgres can store), and Node's native decoder does exactly
 * that, several times faster. So string fields are switched to protobufjs's
 * non-verifying reader (the `utf8_validation` feature, read when a type's
 * decoder is first generated). test/unit/proto.test.ts covers the effect.
 */
function acceptInvalidUtf8(ns: protobuf.NamespaceBase): void {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) {
      for (const field of nested.fieldsArray) {
        const f = field as unknown as { type: string; _features?: Record<string, unknown> };
        if (f.type === 'string' && f._features) f._features = { ...f._features, utf8_validation: 'NONE' };
      }
    }
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) acceptInvalidUtf8(nested);
  }
}

export const root = loadRoot();

// protobufjs stops at 100 nested messages (protoc's default). OTLP values may
// nest 64 AnyValue levels (two or three messages each) under a handful of
// envelopes; deeper ones are rejected per item by the normaliser, and only
// past the documented protobuf nesting limit (docs/operations.md, "Limits":
// 4096 levels, the request being the first, as the decode budget counts
// them) is the whole request refused. protobufjs counts from 0 at the request.
protobuf.Reader.recursionLimit = PROTOBUF_MAX_DEPTH - 1;

// protobufjs skips an unknown varint however long it is. The wire format
// allows ten bytes at most (protobuf.dev, "Encoding": a varint encodes up to
// 64 bits in up to ten bytes), and the reference parsers refuse a longer
// one wherever it is, as protobufjs does when it reads a known field.
const skipBytes = protobuf.Reader.prototype.skip;
protobuf.Reader.prototype.skip = function skip(this: protobuf.Reader, length?: number): protobuf.Reader {
  if (typeof length === 'number') return skipBytes.call(this, length);
  for (let i = 0; i < 10; i++) {
    if (this.pos >= this.len) throw new RangeError(`index out of range: ${this.pos} + 1 > ${this.len}`);
    if ((this.buf[this.pos++] as number) < 0x80) return this;
  }
  throw new Error('invalid varint encoding');
};

export const TraceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
export const TraceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
export const LogsRequest = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
export const LogsResponse = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');
export const RpcStatus = root.lookupType('google.rpc.Status');
export const RetryInfo = root.lookupType('google.rpc.RetryInfo');
export const BadRequest = root.lookupType('google.rpc.BadRequest');

/** Decodes an ExportTraceServiceRequest; throws on malformed protobuf. */
export function decodeTraceRequest(bytes: Uint8Array): ExportTraceServiceRequest {
  return TraceRequest.decode(bytes) as unknown as ExportTraceServiceRequest;
}

/** Decodes an ExportLogsServiceRequest; throws on malformed protobuf. */
export function decodeLogsRequest(bytes: Uint8Array): ExportLogsServiceRequest {
  return LogsRequest.decode(bytes) as unknown as ExportLogsServiceRequest;
}
