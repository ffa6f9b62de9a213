/**
 * docker-compose.yml without Docker: validated against the Compose
 * Specification's JSON Schema (vendored in test/stack/fixtures, see its
 * README), before and after variable interpolation; and checked for
 * consistency with the rest of the repository: the verdict service's command
 * and environment are accepted by Verdict's own configuration loader, the
 * ports and health checks match it, the database URL matches the postgres
 * service, Grafana's data source matches the postgres service and the
 * read-only role the init script creates, and every mounted path exists.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { helpText } from '../../src/commands.ts';
import { loadConfig } from '../../src/config.ts';
import { provisioning } from '../helpers/grafana-macros.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCHEMA = JSON.parse(readFileSync(join(ROOT, 'test/stack/fixtures/compose-spec.json'), 'utf8')) as Schema;
const RAW = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Compose;

// ------------------------------------------------------ a JSON Schema validator
//
// The draft-07 keywords the Compose schema uses, and nothing else: meeting a
// keyword it does not know is an error, so a newer schema cannot pass by
// being half understood.

type Schema = boolean | { [k: string]: any };
const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'deprecated', 'definitions', 'examples', '$comment']);
const KEYWORDS = new Set(['$ref', 'type', 'enum', 'const', 'properties', 'patternProperties', 'additionalProperties', 'required', 'items', 'uniqueItems', 'oneOf', 'anyOf', 'allOf', 'not', 'minimum', 'maximum', 'pattern', 'minItems', 'minProperties']);

function typeOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof v === 'object' && v !== null && !Array.isArray(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'boolean':
      return typeof v === 'boolean';
    case 'null':
      return v === null;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    default:
      throw new Error(`schema type ${type} is not supported`);
  }
}

function validate(root: Schema, value: unknown): string[] {
  const errors: string[] = [];
  const resolve = (ref: string): Schema => {
    if (!ref.startsWith('#/')) throw new Error(`only local $ref is supported: ${ref}`);
    return ref.slice(2).split('/').reduce<any>((node, part) => node?.[part.replaceAll('~1', '/').replaceAll('~0', '~')], root) as Schema;
  };
  const check = (schema: Schema, v: unknown, path: string): boolean => {
    if (schema === true) return true;
    if (schema === false) return fail(path, 'nothing is allowed here');
    for (const k of Object.keys(schema)) if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`schema keyword ${k} (at ${path}) is not supported`);
    let ok = true;
    if (schema.$ref) ok = check(resolve(schema.$ref), v, path) && ok;
    if (schema.type !== undefined) {
      const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
      if (!types.some((t) => typeOk(t, v))) return fail(path, `must be ${types.join(' or ')}, got ${JSON.stringify(v)}`);
    }
    if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(v))) ok = fail(path, `must be one of ${JSON.stringify(schema.enum)}`);
    if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(v)) ok = fail(path, `must be ${JSON.stringify(schema.const)}`);
    if (typeof v === 'number') {
      if (schema.minimum !== undefined && v < schema.minimum) ok = fail(path, `must be >= ${schema.minimum}`);
      if (schema.maximum !== undefined && v > schema.maximum) ok = fail(path, `must be <= ${schema.maximum}`);
    }
    if (typeof v === 'string' && schema.pattern && !new RegExp(schema.pattern, 'u').test(v)) ok = fail(path, `must match ${schema.pattern}`);
    if (Array.isArray(v)) {
      if (schema.minItems !== undefined && v.length < schema.minItems) ok = fail(path, `needs at least ${schema.minItems} items`);
      if (schema.uniqueItems && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) ok = fail(path, 'items must be unique');
      if (schema.items !== undefined) {
        if (Array.isArray(schema.items)) throw new Error('tuple items are not supported');
        v.forEach((x, i) => (ok = check(schema.items, x, `${path}/${i}`) && ok));
      }
    }
    if (typeOk('object', v)) {
      const obj = v as Record<string, unknown>;
      if (schema.minProperties !== undefined && Object.keys(obj).length < schema.minProperties) ok = fail(path, `needs at least ${schema.minProperties} properties`);
      for (const r of schema.required ?? []) if (!(r in obj)) ok = fail(path, `is missing ${r}`);
      for (const [k, x] of Object.entries(obj)) {
        let matched = false;
        if (schema.properties && k in schema.properties) {
          matched = true;
          ok = check(schema.properties[k], x, `${path}/${k}`) && ok;
        }
        for (const [pat, sub] of Object.entries<Schema>(schema.patternProperties ?? {})) {
          if (new RegExp(pat, 'u').test(k)) {
            matched = true;
            ok = check(sub, x, `${path}/${k}`) && ok;
          }
        }
        if (!matched && schema.additionalProperties !== undefined) {
          if (schema.additionalProperties === false) ok = fail(`${path}/${k}`, 'is not allowed');
          else ok = check(schema.additionalProperties, x, `${path}/${k}`) && ok;
        }
      }
    }
    const quiet = (s: Schema) => {
      const saved = errors.length;
      const r = check(s, v, path);
      errors.length = saved;
      return r;
    };
    if (schema.oneOf) {
      const n = (schema.oneOf as Schema[]).filter(quiet).length;
      if (n !== 1) ok = fail(path, `must match exactly one of ${schema.oneOf.length} alternatives (matches ${n})`);
    }
    if (schema.anyOf && !(schema.anyOf as Schema[]).some(quiet)) ok = fail(path, 'must match one of the alternatives');
    if (schema.allOf) for (const s of schema.allOf as Schema[]) ok = check(s, v, path) && ok;
    if (schema.not !== undefined && quiet(schema.not)) ok = fail(path, 'must not match');
    return ok;
  };
  const fail = (path: string, msg: string) => {
    errors.push(`${path || '/'} ${msg}`);
    return false;
  };
  check(root, value, '');
  return errors;
}

// ------------------------------------------------- Compose interpolation

/** Compose variable interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $VAR, $$. */
function interpolate<T>(value: T, env: Record<string, string | undefined>): T {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, name?: string, op?: string, arg?: string, bare?: string) => {
      if (m === '$$') return '$';
      const key = (name ?? bare) as string;
      const v = env[key];
      const unset = v === undefined || (op?.startsWith(':') && v === '');
      if (op?.endsWith('?') && unset) throw new Error(`required variable ${key}: ${arg}`);
      if (op?.endsWith('-') && unset) return arg ?? '';
      return v ?? '';
    }) as T;
  }
  if (Array.isArray(value)) return value.map((x) => interpolate(x, env)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, interpolate(x, env)])) as T;
  return value;
}

interface Service {
  image?: string;
  build?: string | { context: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  ports?: Array<string | number>;
  volumes?: Array<string | { type: string; source: string; target: string }>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const C = interpolate(RAW, {});
const svc = (name: string) => {
  const s = C.services[name];
  if (!s) throw new Error(`no ${name} service`);
  return s;
};
const envOf = (s: Service): Record<string, string> =>
  Array.isArray(s.environment) ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)])) : { ...(s.environment ?? {}) };
const mounts = (s: Service) =>
  (s.volumes ?? []).map((v) => {
    if (typeof v !== 'string') return { source: v.source, target: v.target, ro: false };
    const [source, target, mode] = v.split(':') as [string, string, string | undefined];
    return { source, target, ro: mode === 'ro' };
  });
/** Container ports published on the host: "127.0.0.1:5432:5432" → 5432. */
const published = (s: Service) => (s.ports ?? []).map((p) => Number(String(p).split(':').at(-1)!.split('/')[0]));
const seconds = (d: string) => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(d);
  if (!m) throw new Error(`duration ${d}`);
  return (Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h']);
};

describe('docker-compose.yml against the Compose Specification schema', () => {
  it('is valid as written and after interpolation with the defaults', () => {
    expect(validate(SCHEMA, RAW)).toEqual([]);
    expect(validate(SCHEMA, C)).toEqual([]);
  });

  it('is valid with the variables set, as a user would set them', () => {
    const env = { POSTGRES_PASSWORD: 's3cret', GRAFANA_READER_PASSWORD: 'r3ader', GRAFANA_ADMIN_PASSWORD: 'adm1n' };
    const c = interpolate(RAW, env);
    expect(validate(SCHEMA, c)).toEqual([]);
    expect(envOf(c.services.grafana!).GRAFANA_READER_PASSWORD).toBe('r3ader');
  });

  it('would catch the mistakes a schema check is for (so the validator is not vacuous)', () => {
    const broken = (mutate: (c: any) => void) => {
      const c = structuredClone(RAW) as any;
      mutate(c);
      return validate(SCHEMA, c);
    };
    expect(broken((c) => (c.services.verdict.imagee = 'x')).join()).toContain('/services/verdict/imagee is not allowed');
    expect(broken((c) => (c.services.grafana.depends_on.verdict.condition = 'service_ready')).join()).toContain('/services/grafana/depends_on');
    expect(broken((c) => (c.services.postgres.ports = [true])).join()).toContain('/services/postgres/ports/0');
    expect(broken((c) => (c.services.postgres.volumes = { data: '/x' })).join()).toContain('/services/postgres/volumes must be array');
    expect(broken((c) => (c.servicez = c.services)).join()).toContain('/servicez is not allowed');
    expect(broken((c) => (c.services.verdict.healthcheck.test = 42)).join()).toContain('/services/verdict/healthcheck/test');
  });
});

describe('the stack, consistent with Verdict and with itself', () => {
  it('runs PostgreSQL 18 with its data volume at /var/lib/postgresql and a TCP health check', () => {
    const pg = svc('postgres');
    expect(pg.image).toMatch(/^postgres:18(\.\d+)*$/);
    expect(mounts(pg)).toContainEqual({ source: 'pgdata', target: '/var/lib/postgresql', ro: false });
    expect(C.volumes).toHaveProperty('pgdata');
    expect([pg.healthcheck!.test].flat().join(' ')).toMatch(/pg_isready -h 127\.0\.0\.1\b/);
  });

  it('starts Verdict with a command and environment its CLI accepts, listening on the published ports', () => {
    const v = svc('verdict');
    const command = [v.command!].flat();
    // The image runs `node bin/verdict.js <command…>`; the first word is a command the CLI documents.
    const commands = [...helpText().matchAll(/^ {2}verdict \[?(\w+)\]?/gm)].map((m) => m[1]);
    expect(commands).toContain(command[0]);
    const cfg = loadConfig({ argv: command.slice(1), env: envOf(v) });
    expect(cfg.host).toBe('0.0.0.0');
    expect(published(v).sort()).toEqual([cfg.grpcPort, cfg.httpPort].sort());
    expect(published(v)).toEqual([4317, 4318]);
    // Verdict runs on the postgres service here; were the embedded database used, its wire port would stay on loopback.
    expect(cfg.databaseUrl).not.toBeNull();
    expect(cfg.pgHost).toBe('127.0.0.1');
    // The health check asks /readyz on the port Verdict serves HTTP on.
    expect([v.healthcheck!.test].flat().join(' ')).toContain(`http://127.0.0.1:${cfg.httpPort}/readyz`);
    // Compose waits longer than Verdict does for in-flight exports.
    expect(seconds(v.stop_grace_period!) * 1000).toBeGreaterThan(cfg.shutdownTimeoutMs);
    expect(v.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(v.build === '.' || (typeof v.build === 'object' && v.build.context === '.')).toBe(true);
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
  });

  it('points Verdict at the postgres service with its user, password and database', () => {
    const pgEnv = envOf(svc('postgres'));
    const cfg = loadConfig({ argv: [], env: envOf(svc('verdict')) });
    const url = new URL(cfg.databaseUrl!);
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(decodeURIComponent(url.username)).toBe(pgEnv.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(pgEnv.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
    // The same variable feeds both, so setting POSTGRES_PASSWORD keeps them in step.
    const raw = RAW.services.verdict!.environment as Record<string, string>;
    expect(raw.DATABASE_URL).toContain('${POSTGRES_PASSWORD:-verdict}');
    expect((RAW.services.postgres!.environment as Record<string, string>).POSTGRES_PASSWORD).toBe('${POSTGRES_PASSWORD:-verdict}');
  });

  it('creates the read-only role on first start, with the password Grafana is given', () => {
    const pg = svc('postgres');
    const init = mounts(pg).find((m) => m.target === '/docker-entrypoint-initdb.d');
    expect(init).toMatchObject({ source: './deploy/postgres-init', ro: true });
    const dir = join(ROOT, init!.source);
    const sqlFile = join(dir, '10-grafana-reader.sql');
    const shFile = join(dir, '20-grafana-reader-password.sh');
    // The image runs *.sql and *.sh in name order; an executable .sh runs in its own shell.
    accessSync(shFile, constants.X_OK);
    const role = /CREATE ROLE (\w+)/.exec(readFileSync(sqlFile, 'utf8'))?.[1];
    const ds = provisioning('datasources')[0]!.doc.datasources[0];
    expect(ds.user).toBe(role);
    expect(readFileSync(shFile, 'utf8')).toContain(`ALTER ROLE ${role} PASSWORD :'password'`);
    const secretVar = /^\$(?:\{|__env\{)?([A-Z_]+)\}?$/.exec(ds.secureJsonData.password)![1] as string;
    expect(envOf(pg)[secretVar]).toBeTruthy();
    expect(envOf(svc('grafana'))[secretVar]).toBe(envOf(pg)[secretVar]);
    expect(readFileSync(shFile, 'utf8')).toContain(`$${secretVar}`);
  });

  it('runs Grafana 13 with the provisioning and dashboards mounted where the provider looks', () => {
    const g = svc('grafana');
    expect(g.image).toMatch(/^grafana\/grafana:13(\.\d+)*$/);
    const m = mounts(g);
    expect(m).toContainEqual({ source: './grafana/provisioning', target: '/etc/grafana/provisioning', ro: true });
    const provider = provisioning('dashboards')[0]!.doc.providers[0];
    const dashboards = m.find((x) => x.target === provider.options.path);
    expect(dashboards, `nothing mounted at ${provider.options.path}`).toMatchObject({ source: './grafana/dashboards', ro: true });
    const home = envOf(g).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home) {
      expect(home.startsWith(`${provider.options.path}/`)).toBe(true);
      expect(existsSync(join(ROOT, dashboards!.source, home.slice(provider.options.path.length)))).toBe(true);
    }
    expect(g.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, verdict: { condition: 'service_healthy' } });
    expect(published(g)).toEqual([3000]);
  });

  it('connects Grafana to the postgres service, database and port', () => {
    const ds = provisioning('datasources')[0]!.doc.datasources[0];
    const [host, port] = String(ds.url).split(':');
    expect(C.services).toHaveProperty(host!);
    expect(host).toBe('postgres');
    expect(port).toBe('5432');
    expect(ds.jsonData.database).toBe(envOf(svc('postgres')).POSTGRES_DB);
  });

  it('waits only on services that have a health check', () => {
    const imageHealthcheck = /^HEALTHCHECK\s/m.test(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    for (const [name, s] of Object.entries(C.services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(C.services, `${name} depends on ${dep}`).toHaveProperty(dep);
        if (condition !== 'service_healthy') continue;
        const target = C.services[dep]!;
        expect(target.healthcheck !== undefined || (target.build !== undefined && imageHealthcheck), `${name} waits for ${dep} to be healthy`).toBe(true);
      }
    }
  });

  it('mounts only paths that exist, and declares every named volume', () => {
    for (const [name, s] of Object.entries(C.services)) {
      for (const m of mounts(s)) {
        if (m.source.startsWith('.') || m.source.startsWith('/')) expect(existsSync(join(ROOT, m.source)), `${name}: ${m.source}`).toBe(true);
        else expect(C.volumes, `${name}: volume ${m.source}`).toHaveProperty(m.source);
      }
    }
    expect(statSync(join(ROOT, 'grafana/dashboards')).isDirectory()).toBe(true);
  });
});
