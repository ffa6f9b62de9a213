/**
 * Everything a receiver reads from files besides its settings: rules,
 * bearer tokens, TLS certificate and key. Read and validated before anything
 * starts, so a bad file stops start-up with a message naming it.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Authenticator, loadTokens } from '../receivers/auth.ts';
import { ReloadableRules } from '../rules/reloadable.ts';

export interface Inputs {
  rules: ReloadableRules;
  auth: Authenticator;
  tls: { cert: Buffer; key: Buffer } | null;
}

export function readInputs(cfg: Config, log: Logger): Inputs {
  return {
    rules: new ReloadableRules(cfg.rulesFile, log),
    auth: new Authenticator(loadTokens(cfg.authTokens, cfg.authTokenFile)),
    tls: cfg.tlsCert && cfg.tlsKey ? { cert: readPem(cfg.tlsCert, '--tls-cert'), key: readPem(cfg.tlsKey, '--tls-key') } : null,
  };
}

function readPem(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`cannot read ${flag} ${file}: ${(err as Error).message}`);
  }
}
