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
}

export function readyLine(f: BannerFacts): string {
  const scheme = f.tls ? 'https' : 'http';
  const db =
    f.database === 'postgres'
      ? 'database: PostgreSQL (DATABASE_URL)'
      : `embedded database in ${f.dataDir}${f.psqlCommand ? `, query it with: ${f.psqlCommand} (or ${f.pgUrl})` : ' (no wire port: --pg-port 0)'}`;
  return (
    `verdict ready: OTLP/gRPC${f.tls ? ' (TLS)' : ''} on ${f.grpc.join(', ')}; OTLP/HTTP on ${f.http.map((a) => `${scheme}://${a}`).join(', ')}` +
    `; metrics at ${scheme}://${f.http[0]}/metrics${f.auth ? '; bearer tokens required' : ''}; ${db}`
  );
}
