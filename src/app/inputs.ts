/**
 * Everything a receiver reads from files besides its settings: rules,
 * bearer tokens, TLS certificate and key; and the review section, which is
 * reloaded from the config file. Read and validated before anything
 * starts, so a bad file stops start-up with a message naming it.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { Authenticator, loadTokens } from '../receivers/auth.ts';
import type { ReviewConfig } from '../review/config.ts';
import { ReloadableReview } from '../review/reloadable.ts';
import { ReloadableRules } from '../rules/reloadable.ts';

export interface Inputs {
  rules: ReloadableRules;
  auth: Authenticator;
  /** The review queues and reviewers (the config file's `review:` section), reloadable. */
  review: ReloadableReview;
  tls: { cert: Buffer; key: Buffer } | null;
}

export function readInputs(cfg: Config, log: Logger): Inputs {
  const tokens = loadTokens(cfg.authTokens, cfg.authTokenFile);
  // A token that opened both ingest and review would make a reviewer an exporter (and the reverse).
  const separate = (review: ReviewConfig) => {
    const shared = review.reviewers.find((r) => tokens.includes(r.token));
    if (shared) throw new ConfigError(`review.reviewers: the token of ${JSON.stringify(shared.name)} is also an ingest token (--auth-tokens); give reviewers tokens of their own`);
  };
  return {
    rules: new ReloadableRules(cfg.rulesFile, log),
    auth: new Authenticator(tokens),
    review: new ReloadableReview(cfg.configFile, cfg.review, log, separate),
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
