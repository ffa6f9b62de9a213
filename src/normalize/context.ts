/** Resource and scope facts shared by every span or log record under them, computed once per envelope. */
import type { InstrumentationScope, Resource } from '../otlp/types.ts';
import { CopyWriter } from '../common/copy-binary.ts';
import { clean, fitsUtf8 } from '../common/text.ts';
import { contentKey } from '../common/util.ts';
import type { ResourceRow } from '../model/rows.ts';
import { attributesJson, scalarOf } from './anyvalue.ts';
import { ATTR } from './genai.ts';

/** Lifted text columns longer than this (in UTF-8 bytes) are left NULL (the attribute keeps the value): btree index rows must stay under ~2.7 kB. */
export const MAX_LIFTED_LENGTH = 1024;

export function liftedText(v: unknown): string | null {
  if (typeof v !== 'string' || v.length === 0 || !fitsUtf8(v, MAX_LIFTED_LENGTH)) return null;
  return clean(v);
}

export function optionalText(s: string | null | undefined): string | null {
  return s ? clean(s) : null;
}

export interface ResourceInfo {
  /** JSON text of the resource attributes. */
  attributes: string;
  serviceName: string | null;
  serviceVersion: string | null;
  schemaUrl: string | null;
  /** Content key of the attributes and schema URL: the row of verdict.resources that spans and log records reference. */
  id: string;
}

export interface ScopeInfo {
  name: string | null;
  version: string | null;
  attributes: string;
  schemaUrl: string | null;
}

export function resourceInfo(resource: Resource | null | undefined, schemaUrl: string): ResourceInfo {
  const attrs = resource?.attributes ?? [];
  let serviceName: string | null = null;
  let serviceVersion: string | null = null;
  for (const kv of attrs) {
    if (kv.key === ATTR.serviceName) serviceName = liftedText(scalarOf(kv.value));
    else if (kv.key === ATTR.serviceVersion) serviceVersion = liftedText(scalarOf(kv.value));
  }
  const attributes = attributesJson(attrs);
  const url = optionalText(schemaUrl);
  return { attributes, serviceName, serviceVersion, schemaUrl: url, id: contentKey('resource', attributes, url) };
}

export function resourceRow(r: ResourceInfo): ResourceRow {
  return { resource_id: r.id, service_name: r.serviceName, service_version: r.serviceVersion, attributes: r.attributes, schema_url: r.schemaUrl };
}

export function scopeInfo(scope: InstrumentationScope | null | undefined, schemaUrl: string): ScopeInfo {
  return {
    name: optionalText(scope?.name),
    version: optionalText(scope?.version),
    attributes: attributesJson(scope?.attributes ?? []),
    schemaUrl: optionalText(schemaUrl),
  };
}

/**
 * The COPY encoding of the span columns service_name … scope_schema_url (see
 * SPAN_COLUMNS), the same for every span of one resource and scope.
 */
export function envelopeFields(r: ResourceInfo, s: ScopeInfo): Buffer {
  const w = new CopyWriter(1024);
  w.text(r.serviceName);
  w.text(s.name);
  w.text(s.version);
  w.jsonb(s.attributes);
  w.ascii(r.id);
  w.text(s.schemaUrl);
  const { chunks, bytes } = w.finish();
  return Buffer.concat(chunks, bytes);
}
