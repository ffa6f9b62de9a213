/**
 * Loads Verdict's own `.proto` files (in `proto/`) once with protobufjs and
 * exposes the few message types the receiver decodes and encodes.
 *
 * Nothing is generated: the files are parsed at start-up, so the wire format
 * is whatever `proto/` says.
 */
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
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
  return root;
}

export const root = loadRoot();

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
