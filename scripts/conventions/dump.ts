/**
 * Prints captured OTLP requests in a readable form, decoded with Verdict's
 * own proto/ files (the wire format the receiver accepts), to write the
 * conventions report from and to eyeball a capture.
 *
 *   node dump.ts ../../test/fixtures/conventions/traceloop/traces-1.pb [...]
 *   node dump.ts --json FILE      # the decoded request as JSON
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import protobuf from 'protobufjs';

const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : PROTO_DIR + target);
root.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'opentelemetry/proto/collector/logs/v1/logs_service.proto'], { keepCase: false });
root.resolveAll();
const TraceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const LogsRequest = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');

const hex = (b: unknown): string => (b instanceof Uint8Array ? Buffer.from(b).toString('hex') : typeof b === 'string' ? Buffer.from(b, 'base64').toString('hex') : '');

/** Reads a fixture into the protobufjs object form, whatever its encoding. */
export function readRequest(file: string): { kind: 'traces' | 'logs'; req: any } {
  let body = fs.readFileSync(file);
  let name = path.basename(file);
  if (name.endsWith('.gz')) {
    body = zlib.gunzipSync(body);
    name = name.slice(0, -3);
  }
  const kind = name.startsWith('logs') ? 'logs' : 'traces';
  const type = kind === 'logs' ? LogsRequest : TraceRequest;
  // OTLP/JSON uses the same field names as protobufjs's JSON form (lowerCamelCase, hex IDs aside).
  const req = name.endsWith('.json') ? JSON.parse(body.toString('utf8')) : type.toObject(type.decode(body), { longs: String, bytes: String, defaults: false });
  return { kind, req };
}

export function anyValue(v: any): unknown {
  if (v == null) return null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(anyValue);
  if ('kvlistValue' in v) return Object.fromEntries((v.kvlistValue.values ?? []).map((kv: any) => [kv.key, anyValue(kv.value)]));
  if ('bytesValue' in v) return `<bytes ${v.bytesValue}>`;
  return null;
}

export function attrs(list: any[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS = ['UNSET', 'OK', 'ERROR'];

function show(v: unknown, max: number): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

function dump(file: string, max: number): void {
  const { kind, req } = readRequest(file);
  console.log(`##### ${file}`);
  if (kind === 'traces') {
    for (const rs of req.resourceSpans ?? []) {
      console.log(`resource: ${show(attrs(rs.resource?.attributes), 2000)}`);
      for (const ss of rs.scopeSpans ?? []) {
        console.log(`  scope: ${ss.scope?.name} ${ss.scope?.version ?? ''} ${ss.scope?.attributes ? show(attrs(ss.scope.attributes), 300) : ''}`);
        for (const sp of ss.spans ?? []) {
          console.log(`  --- span "${sp.name}" kind=${typeof sp.kind === 'number' ? KINDS[sp.kind] : sp.kind ?? 'UNSPECIFIED'} trace=${hex(sp.traceId).slice(0, 8)} id=${hex(sp.spanId)} parent=${hex(sp.parentSpanId) || '-'}` + ` status=${sp.status ? `${typeof sp.status.code === 'number' ? STATUS[sp.status.code] : sp.status.code ?? 'UNSET'}${sp.status.message ? ` "${sp.status.message}"` : ''}` : 'UNSET'}`);
          for (const [k, v] of Object.entries(attrs(sp.attributes))) console.log(`      ${k} = ${show(v, max)}`);
          for (const ev of sp.events ?? []) {
            console.log(`      event "${ev.name}"`);
            for (const [k, v] of Object.entries(attrs(ev.attributes))) console.log(`          ${k} = ${show(v, max)}`);
          }
          for (const l of sp.links ?? []) console.log(`      link ${hex(l.traceId)}/${hex(l.spanId)}`);
        }
      }
    }
  } else {
    for (const rl of req.resourceLogs ?? []) {
      console.log(`resource: ${show(attrs(rl.resource?.attributes), 2000)}`);
      for (const sl of rl.scopeLogs ?? []) {
        console.log(`  scope: ${sl.scope?.name} ${sl.scope?.version ?? ''}`);
        for (const lr of sl.logRecords ?? []) {
          console.log(`  --- log eventName=${lr.eventName ?? '-'} severity=${lr.severityNumber ?? '-'}/${lr.severityText ?? '-'} trace=${hex(lr.traceId).slice(0, 8)} span=${hex(lr.spanId) || '-'}`);
          console.log(`      body = ${show(anyValue(lr.body), max)}`);
          for (const [k, v] of Object.entries(attrs(lr.attributes))) console.log(`      ${k} = ${show(v, max)}`);
        }
      }
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const json = args[0] === '--json';
  const files = json ? args.slice(1) : args;
  const max = Number(process.env.DUMP_MAX ?? 400);
  for (const f of files) {
    if (json) console.log(JSON.stringify(readRequest(f).req, null, 2));
    else dump(f, max);
  }
}
