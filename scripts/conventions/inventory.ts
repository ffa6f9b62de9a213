/**
 * Every attribute key each library sent, grouped by span shape, with one
 * example value each: the raw material of the conventions report.
 *
 *   node inventory.ts [scenario ...]     # markdown on stdout
 *
 * Spans are grouped by instrumentation scope and by name with digits and the
 * model/tool names folded (`chat gpt-4o-mini` and `chat no-such-model` are one
 * group), so a group is one kind of span of one library.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { anyValue, readRequest } from './dump.ts';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/conventions/', import.meta.url));
const MAX = Number(process.env.INVENTORY_MAX ?? 160);
const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS = ['UNSET', 'OK', 'ERROR'];

function fold(name: string): string {
  return name
    .replace(/gpt-4o-mini(-2024-07-18)?|no-such-model|text-embedding-3-small/g, '{model}')
    .replace(/\d+/g, 'N');
}

/** The OTLP AnyValue type, which matters to a normaliser as much as the value (an int is not a double). */
function typeOf(v: any): string {
  if (!v) return 'empty';
  if ('stringValue' in v) return 'string';
  if ('intValue' in v) return 'int';
  if ('doubleValue' in v) return 'double';
  if ('boolValue' in v) return 'bool';
  if ('arrayValue' in v) return `array of ${[...new Set((v.arrayValue.values ?? []).map(typeOf))].join('/') || 'nothing'}`;
  if ('kvlistValue' in v) return 'kvlist';
  if ('bytesValue' in v) return 'bytes';
  return 'empty';
}

/** Attributes as key -> { value, type }. */
function attrs(list: any[] | undefined): Record<string, { v: unknown; t: string }> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, { v: anyValue(kv.value), t: typeOf(kv.value) }]));
}

function example({ v, t }: { v: unknown; t: string }): string {
  let s = JSON.stringify(v) ?? 'null';
  if (s.length > MAX) s = `${s.slice(0, MAX)}… [${s.length} chars]`;
  return `${s.replace(/\|/g, '\\|').replace(/\n/g, '\\n')} *(${t})*`;
}

interface Group {
  count: number;
  kinds: Set<string>;
  statuses: Set<string>;
  names: Set<string>;
  keys: Map<string, { v: unknown; t: string }>;
  events: Map<string, Map<string, { v: unknown; t: string }>>;
}

const scenarios = process.argv.slice(2).length ? process.argv.slice(2) : fs.readdirSync(FIXTURES).filter((d) => fs.statSync(path.join(FIXTURES, d)).isDirectory()).sort();
for (const scenario of scenarios) {
  const dir = path.join(FIXTURES, scenario);
  const files = fs.readdirSync(dir).filter((f) => /^(traces|logs)-\d+\./.test(f)).sort();
  console.log(`\n### ${scenario}\n`);
  const groups = new Map<string, Group>();
  const logGroups = new Map<string, { count: number; body: { v: unknown; t: string }; keys: Map<string, { v: unknown; t: string }>; fields: Set<string> }>();
  const resources = new Set<string>();
  for (const f of files) {
    const { kind, req } = readRequest(path.join(dir, f));
    if (kind === 'traces') {
      for (const rs of req.resourceSpans ?? []) {
        resources.add(JSON.stringify(Object.fromEntries(Object.entries(attrs(rs.resource?.attributes)).map(([k, x]) => [k, x.v]))));
        for (const ss of rs.scopeSpans ?? []) {
          for (const sp of ss.spans ?? []) {
            const a = attrs(sp.attributes);
            const key = `${ss.scope?.name ?? '?'} :: ${fold(sp.name)}`;
            const g = groups.get(key) ?? { count: 0, kinds: new Set(), statuses: new Set(), names: new Set(), keys: new Map(), events: new Map() };
            groups.set(key, g);
            g.count++;
            g.names.add(sp.name);
            g.kinds.add(typeof sp.kind === 'number' ? KINDS[sp.kind]! : String(sp.kind ?? 'UNSPECIFIED'));
            const code = sp.status?.code;
            g.statuses.add(`${typeof code === 'number' ? STATUS[code] : code ?? 'UNSET'}${sp.status?.message ? ' (with message)' : ''}`);
            for (const [k, v] of Object.entries(a)) if (!g.keys.has(k)) g.keys.set(k, v);
            for (const ev of sp.events ?? []) {
              const e = g.events.get(ev.name) ?? new Map();
              g.events.set(ev.name, e);
              for (const [k, v] of Object.entries(attrs(ev.attributes))) if (!e.has(k)) e.set(k, v);
            }
          }
        }
      }
    } else {
      for (const rl of req.resourceLogs ?? []) {
        resources.add(JSON.stringify(Object.fromEntries(Object.entries(attrs(rl.resource?.attributes)).map(([k, x]) => [k, x.v]))));
        for (const sl of rl.scopeLogs ?? []) {
          for (const lr of sl.logRecords ?? []) {
            const a = attrs(lr.attributes);
            const name = lr.eventName ? `eventName=${lr.eventName}` : `event.name=${a['event.name']?.v ?? '-'}`;
            const key = `${sl.scope?.name ?? '?'} :: ${name}`;
            const g = logGroups.get(key) ?? { count: 0, body: { v: anyValue(lr.body), t: typeOf(lr.body) }, keys: new Map(), fields: new Set() };
            logGroups.set(key, g);
            g.count++;
            for (const [k, v] of Object.entries(a)) if (!g.keys.has(k)) g.keys.set(k, v);
            for (const field of ['severityNumber', 'severityText', 'traceId', 'spanId', 'timeUnixNano', 'observedTimeUnixNano', 'eventName']) if (lr[field] != null && lr[field] !== '') g.fields.add(field);
          }
        }
      }
    }
  }
  for (const r of resources) console.log(`resource: \`${r.length > 400 ? r.slice(0, 400) + '…' : r}\`\n`);
  for (const [key, g] of groups) {
    console.log(`#### span ${key} (${g.count}×)`);
    console.log(`names: ${[...g.names].map((n) => `\`${n}\``).join(', ')}; kind: ${[...g.kinds].join('/')}; status: ${[...g.statuses].join(', ')}\n`);
    console.log('| attribute | example |\n|---|---|');
    for (const [k, v] of g.keys) console.log(`| \`${k}\` | ${example(v)} |`);
    for (const [name, e] of g.events) {
      console.log(`| *event* \`${name}\` | |`);
      for (const [k, v] of e) console.log(`| &nbsp;&nbsp;\`${k}\` | ${example(v)} |`);
    }
    console.log('');
  }
  for (const [key, g] of logGroups) {
    console.log(`#### log record ${key} (${g.count}×)`);
    console.log(`record fields set: ${[...g.fields].join(', ')}; body example: ${example(g.body)}\n`);
    console.log('| attribute | example |\n|---|---|');
    for (const [k, v] of g.keys) console.log(`| \`${k}\` | ${example(v)} |`);
    console.log('');
  }
}
