/**
 * The fuzz oracle's decoders: what a conforming OTLP receiver reads from a
 * request body, found without any of Verdict's code (src/), protobufjs or
 * the proto/ files, so that a receiver which wrongly refuses, accepts or
 * misreads a body disagrees with it instead of being agreed with.
 */
import { decodeJson } from './json.ts';
import { ExportLogsServiceRequest, ExportTraceServiceRequest } from './otlp-messages.ts';
import { decodeProtobuf } from './protobuf.ts';
import type { Decoded } from './schema.ts';

export { InvalidId, type Decoded } from './schema.ts';

/** The decoded ExportTraceServiceRequest or ExportLogsServiceRequest; throws when the body is not one. */
export function decodeRequest(signal: 'traces' | 'logs', encoding: 'protobuf' | 'json', body: Uint8Array): Decoded {
  const m = signal === 'traces' ? ExportTraceServiceRequest : ExportLogsServiceRequest;
  return encoding === 'json' ? decodeJson(body, m) : decodeProtobuf(body, m);
}
