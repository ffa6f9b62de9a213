/** The start-up line: where to send data, where to query it. */
export interface BannerFacts {
  grpc: readonly string[];
  http: readonly string[];
  tls: boolean;
  auth: boolean;
  database: 'postgres' | 'pglite';
  dataDir: string;
  psqlCommand: string | null;
  pgUrl: string | null;
  /** The admin listener (--admin-port), when set: metrics and health are there. */
  admin?: readonly string[];
}

const metricsAt = (f: BannerFacts, scheme: string): string => (f.admin?.length ? `http://${f.admin[0]}/metrics` : `${scheme}://${f.http[0]}/metrics`);

export function readyLine(f: BannerFacts): string {
  const scheme = f.tls ? 'https' : 'http';
  const db =
    f.database === 'postgres'
      ? 'database: PostgreSQL (DATABASE_URL)'
      : `embedded database in ${f.dataDir}${f.psqlCommand ? `, query it with: ${f.psqlCommand} (or ${f.pgUrl})` : ' (no wire port: --pg-port 0)'}`;
  return (
    `verdict ready: OTLP/gRPC${f.tls ? ' (TLS)' : ''} on ${f.grpc.join(', ')}; OTLP/HTTP on ${f.http.map((a) => `${scheme}://${a}`).join(', ')}` +
    `; metrics at ${metricsAt(f, scheme)}${f.auth ? '; bearer tokens required' : ''}; ${db}`
  );
}

/** The same facts as lines for a person at a terminal (the text log format). */
export function readyText(f: BannerFacts): string[] {
  const scheme = f.tls ? 'https' : 'http';
  const rows: Array<[string, string]> = [
    [`OTLP/gRPC${f.tls ? ' (TLS)' : ''}`, f.grpc.join(', ')],
    ['OTLP/HTTP', f.http.map((a) => `${scheme}://${a}`).join(', ')],
    ['metrics', metricsAt(f, scheme)],
    ['database', f.database === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : `embedded, in ${f.dataDir}`],
  ];
  if (f.database === 'pglite') rows.push(['query it', f.psqlCommand ?? 'no wire port (--pg-port 0)']);
  return [`verdict ready${f.auth ? ' (bearer tokens required)' : ''}`, ...rows.map(([k, v]) => `  ${k.padEnd(16)}${v}`)];
}
