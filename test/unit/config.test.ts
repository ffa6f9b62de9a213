/** Configuration: precedence (flags > env > file > defaults) and messages that name the bad setting. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { helpText } from '../../src/commands.ts';
import { ConfigError, loadConfig, SETTINGS } from '../../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'verdict-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({ argv: [], env: {} });
    expect(c).toMatchObject({ host: 'localhost', grpcPort: 4317, httpPort: 4318, databaseUrl: null, dataDir: './verdict-data', pgPort: 5433, maxBodyBytes: 64 * 1024 * 1024, logLevel: 'info' });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('takes flags over environment over file over defaults', () => {
    const cfg = file('p.yaml', 'grpc_port: 1001\nhttp_port: 1002\npg_port: 1003\nmax_body_size: 2MiB\n');
    const c = loadConfig({ argv: ['--config', cfg, '--grpc-port', '3001', '--log-level=debug'], env: { VERDICT_GRPC_PORT: '2001', VERDICT_HTTP_PORT: '2002', DATABASE_URL: 'postgres://x@y/z' } });
    expect(c).toMatchObject({ grpcPort: 3001, httpPort: 2002, pgPort: 1003, maxBodyBytes: 2 * 1024 * 1024, logLevel: 'debug', databaseUrl: 'postgres://x@y/z' });
    expect(loadConfig({ argv: [], env: { VERDICT_CONFIG: cfg } }).pgPort).toBe(1003);
  });

  it('parses sizes, durations and lists', () => {
    const c = loadConfig({ argv: ['--max-body-size', '512KiB', '--write-timeout', '1.5s', '--batch-max-wait', '0', '--cors-origins', 'https://a.example, https://b.example'], env: {} });
    expect(c).toMatchObject({ maxBodyBytes: 512 * 1024, writeTimeoutMs: 1500, batchMaxWaitMs: 0, corsOrigins: ['https://a.example', 'https://b.example'] });
  });

  it.each([
    [{ argv: ['--grpc-port', '70000'] }, 'invalid --grpc-port: "70000" is not a port number (0-65535)'],
    [{ env: { VERDICT_HTTP_PORT: 'abc' } }, 'invalid VERDICT_HTTP_PORT: "abc" is not a port number (0-65535)'],
    [{ argv: ['--max-body-size', 'lots'] }, 'invalid --max-body-size: "lots" is not a size such as 65536, 64KiB or 64MiB'],
    [{ argv: ['--log-level', 'loud'] }, 'invalid --log-level: "loud" is not one of fatal, error, warn, info, debug, trace, silent'],
    [{ argv: ['--writers', '0'] }, 'invalid --writers: "0" is not a positive integer'],
    [{ argv: ['--htttp-port', '1'] }, 'unknown option --htttp-port; see verdict --help'],
    [{ argv: ['--host'] }, 'option --host needs a value'],
    [{ argv: ['extra'] }, 'unexpected argument "extra"; see verdict --help'],
    [{ argv: ['--tls-cert', '/x.pem'] }, '--tls-cert and --tls-key must be given together'],
  ])('refuses %j with a message naming the setting and value', (src, message) => {
    expect(() => loadConfig({ argv: [], env: {}, ...src })).toThrow(new ConfigError(message));
  });

  it('refuses unknown keys and bad values in the file, naming the file', () => {
    const typo = file('typo.yaml', 'htttp_port: 4318\n');
    expect(() => loadConfig({ argv: ['--config', typo], env: {} })).toThrow(`config file ${typo} has an unknown setting "htttp_port"`);
    const bad = file('bad.yaml', 'grpc_port: -1\n');
    expect(() => loadConfig({ argv: ['--config', bad], env: {} })).toThrow(`invalid grpc_port in ${bad}: "-1" is not a port number (0-65535)`);
    expect(() => loadConfig({ argv: ['--config', join(dir, 'missing.yaml')], env: {} })).toThrow(/cannot read config file/);
  });

  it('documents every setting in --help with its flag and environment variable', () => {
    const help = helpText();
    for (const s of SETTINGS) {
      expect(help).toContain(`--${s.name.replaceAll('_', '-')}`);
      expect(help).toContain(s.env);
    }
  });
});
