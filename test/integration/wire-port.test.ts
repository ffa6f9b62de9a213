/**
 * The embedded database's wire port is closed by default: it listens on
 * loopback only, and every connection must prove the port's password with
 * SCRAM-SHA-256 before PGlite sees a byte of it. Real clients (psql,
 * node-postgres) and a raw socket speaking the protocol by hand.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgliteWorkerStore } from '../../src/store/pglite/worker-store.ts';
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts';

interface Psql {
  code: number;
  stdout: string;
  stderr: string;
}

function psql(port: number, password: string | null, sql: string, host = '127.0.0.1'): Promise<Psql> {
  // -w: never prompt; PGPASSFILE: no ~/.pgpass to fall back on.
  const env: NodeJS.ProcessEnv = { ...process.env, PGPASSFILE: join(tmpdir(), 'verdict-no-pgpass'), PGCONNECT_TIMEOUT: '5' };
  delete env.PGPASSWORD;
  if (password !== null) env.PGPASSWORD = password;
  return new Promise((resolve) => {
    execFile('psql', ['-w', '-h', host, '-p', String(port), '-U', 'postgres', '-At', '-c', sql, 'postgres'], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

/** A connection speaking the wire protocol by hand: send bytes, read backend messages until the server closes. */
async function raw(port: number, host = '127.0.0.1'): Promise<{ socket: Socket; send(b: Buffer): void; closed: Promise<Array<{ type: string; body: Buffer }>> }> {
  const socket = connect(port, host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let data = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (data = Buffer.concat([data, d])));
  const closed = new Promise<Array<{ type: string; body: Buffer }>>((resolve) => {
    socket.on('close', () => {
      const out: Array<{ type: string; body: Buffer }> = [];
      for (let i = 0; i + 5 <= data.length; ) {
        const len = data.readInt32BE(i + 1);
        out.push({ type: String.fromCharCode(data[i]!), body: data.subarray(i + 5, i + 1 + len) });
        i += 1 + len;
      }
      resolve(out);
    });
    socket.on('error', () => undefined);
  });
  return { socket, send: (b) => socket.write(b), closed };
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
function startup(user = 'postgres'): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0postgres\0\0`);
  return Buffer.concat([int32(body.length + 8), int32(0x0003_0000), body]);
}
const frontend = (type: string, body: Buffer) => Buffer.concat([Buffer.from(type), int32(body.length + 4), body]);
/** The SQLSTATE and message of an ErrorResponse. */
function errorFields(body: Buffer): { code: string; message: string } {
  const fields = new Map(body.toString('utf8').split('\0').filter(Boolean).map((f) => [f[0], f.slice(1)]));
  return { code: fields.get('C') ?? '', message: fields.get('M') ?? '' };
}

describe('the embedded database wire port', () => {
  let t: TestServer;
  let port: number;
  let url: URL;
  let password: string;
  beforeAll(async () => {
    port = await freePort();
    t = await startTestServer('pglite', { pgPort: port });
    url = new URL(t.server.store.pgUrl!);
    password = decodeURIComponent(url.password);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('prints a password made for this run (a memory:// database keeps none) in the psql command and URL', () => {
    expect(password).toMatch(/^[\w-]{32}$/);
    expect(t.server.store.psqlCommand).toBe(`PGPASSWORD=${password} psql -h 127.0.0.1 -p ${port} -U postgres postgres`);
    expect(url.toString()).toBe(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  });

  it('lets psql in with the password', async () => {
    const r = await psql(port, password, 'SELECT current_user, count(*) FROM verdict.spans');
    expect(r).toEqual({ code: 0, stdout: 'postgres|0', stderr: '' });
  });

  it('lets node-postgres in with the password (a parameterised query, then a second connection at once)', async () => {
    const a = new pg.Client(url.toString());
    const b = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
    await Promise.all([a.connect(), b.connect()]);
    try {
      expect((await a.query('SELECT $1::int + 1 AS n', [41])).rows).toEqual([{ n: 42 }]);
      expect((await b.query("SELECT to_regclass('verdict.spans') IS NOT NULL AS ok")).rows).toEqual([{ ok: true }]);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('refuses a wrong password with 28P01, to psql and to node-postgres', async () => {
    const r = await psql(port, `${password}x`, 'SELECT 1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('FATAL:  password authentication failed for user "postgres"');
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'not-the-password', database: 'postgres' });
    const err = (await c.connect().catch((e: unknown) => e)) as { code?: string; message?: string };
    expect(err.code).toBe('28P01');
    expect(err.message).toBe('password authentication failed for user "postgres"');
  });

  it('asks for a password that is not given: psql stops, and an empty password message gets 28P01', async () => {
    const r = await psql(port, null, 'SELECT 1');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no password supplied');
    // A client that answers the SASL request with an empty password message (as for cleartext authentication).
    const c = await raw(port);
    c.send(startup());
    c.send(frontend('p', Buffer.from('\0')));
    const messages = await c.closed;
    expect(messages.map((m) => m.type)).toEqual(['R', 'E']);
    expect(messages[0]!.body.readInt32BE(0)).toBe(10); // AuthenticationSASL
    expect(messages[0]!.body.subarray(4).toString()).toBe('SCRAM-SHA-256\0\0');
    expect(errorFields(messages[1]!.body)).toEqual({ code: '28P01', message: 'password authentication failed for user "postgres"' });
  });

  it('never lets a statement through before authentication', async () => {
    const c = await raw(port);
    c.send(Buffer.concat([startup(), frontend('Q', Buffer.from('CREATE TABLE public.sneaked_in (x int)\0'))]));
    const messages = await c.closed;
    expect(messages.map((m) => m.type)).toEqual(['R', 'E']);
    expect(errorFields(messages[1]!.body).code).toBe('08P01');
    const r = await psql(port, password, "SELECT to_regclass('public.sneaked_in') IS NULL");
    expect(r.stdout).toBe('t');
  });

  it('answers an SSLRequest with N and then authenticates as usual', async () => {
    const c = await raw(port);
    c.send(Buffer.concat([int32(8), int32(80877103)]));
    const first = await new Promise<Buffer>((resolve) => c.socket.once('data', resolve));
    expect(first.toString()).toBe('N');
    c.socket.destroy();
    // psql's default sslmode (prefer) sends the SSLRequest first; require must fail.
    expect((await psql(port, password, 'SELECT 1')).stdout).toBe('1');
    const required = await new Promise<string>((resolve) =>
      execFile('psql', ['-w', `postgresql://postgres:${password}@127.0.0.1:${port}/postgres?sslmode=require`, '-c', 'SELECT 1'], (_e, _o, stderr) => resolve(stderr)),
    );
    expect(required).toContain('server does not support SSL');
  });

  it('listens on loopback only: bound to 127.0.0.1, unreachable on the machine\'s other addresses', async () => {
    expect(listeningAddresses(port)).toEqual(['127.0.0.1']);
    const others = externalAddresses();
    expect(others, 'this machine has no non-loopback address to try; the bound address above is the evidence').not.toEqual([]);
    for (const address of others) {
      const code = await connectError(address, port);
      expect(code, `connecting to ${address}:${port}`).toBe('ECONNREFUSED');
    }
  });
});

describe('the wire port with --pg-host 0.0.0.0', () => {
  it('is reachable on the machine\'s other addresses, and still asks for the password', async () => {
    const port = await freePort();
    const t = await startTestServer('pglite', { pgPort: port, pgHost: '0.0.0.0' });
    try {
      expect(listeningAddresses(port)).toEqual(['0.0.0.0']);
      const address = externalAddresses().find((a) => !a.includes(':'));
      expect(address, 'this machine has no non-loopback IPv4 address to connect to').toBeDefined();
      const password = decodeURIComponent(new URL(t.server.store.pgUrl!).password);
      expect((await psql(port, password, 'SELECT 1', address)).stdout).toBe('1');
      expect((await psql(port, 'wrong', 'SELECT 1', address)).stderr).toContain('password authentication failed');
      // The printed command reaches it through loopback.
      expect(t.server.store.psqlCommand).toContain(`psql -h 127.0.0.1 -p ${port} `);
    } finally {
      await t.close();
    }
  });
});

describe('the wire port password file', () => {
  const root = mkdtempSync(join(tmpdir(), 'verdict-wire-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const open = (dataDir: string, pgPort: number, pgPasswordFile: string | null = null) =>
    PgliteWorkerStore.open({ dataDir, pgPort, pgHost: '127.0.0.1', pgPasswordFile, writeTimeoutMs: 5000 });

  it('is made owner-only on first start, kept across restarts, and refused once others can read it', async () => {
    const dataDir = join(root, 'data');
    const file = join(dataDir, 'pg-password');
    const port = await freePort();
    const first = await open(dataDir, port);
    const password = readFileSync(file, 'utf8').trim();
    try {
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(first.psqlCommand).toBe(`PGPASSWORD=${password} psql -h 127.0.0.1 -p ${port} -U postgres postgres`);
      expect((await psql(port, password, 'SELECT 1')).stdout).toBe('1');
    } finally {
      await first.close();
    }
    const again = await open(dataDir, port);
    try {
      expect(again.psqlCommand).toContain(`PGPASSWORD=${password} `);
    } finally {
      await again.close();
    }
    chmodSync(file, 0o644);
    await expect(open(dataDir, port)).rejects.toThrow(
      `the wire port's password file ${file} is accessible to other users (mode 0644): make it owner-only with chmod 600 ${file} (--pg-password-file)`,
    );
    // The refusal let go of the directory it had claimed.
    expect(existsSync(join(dataDir, 'verdict.lock'))).toBe(false);
  });

  it('takes a password chosen with --pg-password-file, quoting it in the psql command', async () => {
    const file = join(root, 'chosen');
    writeFileSync(file, "it's a long password\n", { mode: 0o600 });
    const port = await freePort();
    const store = await open('memory://', port, file);
    try {
      expect(store.psqlCommand).toBe(`PGPASSWORD='it'\\''s a long password' psql -h 127.0.0.1 -p ${port} -U postgres postgres`);
      expect(store.pgUrl).toBe(`postgres://postgres:it's%20a%20long%20password@127.0.0.1:${port}/postgres`);
      const c = new pg.Client(store.pgUrl!);
      await c.connect();
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await c.end();
      expect((await psql(port, "it's a long password", 'SELECT 2')).stdout).toBe('2');
    } finally {
      await store.close();
    }
    writeFileSync(file, 'short\n', { mode: 0o600 });
    await expect(open('memory://', port, file)).rejects.toThrow(`the wire port's password file ${file} must hold a password of at least 12 printable ASCII characters`);
  });
});

/** Local addresses a socket listens on at `port` (IPv4, from /proc/net/tcp). */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(`:${hexPort}`) && f[3] === '0A') // 0A: LISTEN
    .map((f) => {
      const hex = f[1]!.split(':')[0]!;
      return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
    });
}

function externalAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && !a.address.startsWith('fe80'))
    .map((a) => a!.address);
}

function connectError(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 3000 });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
