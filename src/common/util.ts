/**
 * Small helpers shared across layers. This module imports nothing from Verdict,
 * so every layer may use it.
 */
import { createHash } from 'node:crypto';

/** `*` and `?` wildcards, anchored and case-sensitive, for evaluation and service names. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${body}$`);
}

/**
 * A 128-bit content key as 32 hex characters: the idempotency key of rows
 * whose identity is what they say (a re-sent log record or verdict maps to
 * the same key). Parts are JSON-encoded, so ["a,b"] and ["a","b"] differ.
 */
export function contentKey(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).digest('hex').slice(0, 32);
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A timer that does not keep the process alive. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
