/**
 * Per-item rejections for OTLP partial success (opentelemetry-proto
 * docs/specification.md, "Partial Success"): the count of rejected spans or
 * log records and one English message summarising why.
 */

/** Thrown while normalising one span or log record that cannot be stored. */
export class RejectedItem extends Error {
  override readonly name = 'RejectedItem';
}

const MAX_REASONS = 5;

/** Collects reasons and warnings for one request, grouped so a thousand bad spans make one readable line. */
export class Rejections {
  rejected = 0;
  #reasons = new Map<string, number>();
  #warnings = new Map<string, number>();

  reject(what: string, reason: string): void {
    this.rejected++;
    const key = `${what}: ${reason}`;
    this.#reasons.set(key, (this.#reasons.get(key) ?? 0) + 1);
  }

  /** Something was stored, but not all of it as sent (e.g. an evaluation event that could not be extracted). */
  warn(message: string): void {
    this.#warnings.set(message, (this.#warnings.get(message) ?? 0) + 1);
  }

  /** The partial_success.error_message, or '' when everything was accepted without remarks. */
  message(noun: string): string {
    const parts: string[] = [];
    if (this.rejected > 0) parts.push(`rejected ${this.rejected} ${noun}${this.rejected === 1 ? '' : 's'}: ${summarise(this.#reasons)}`);
    if (this.#warnings.size > 0) parts.push(`warning: ${summarise(this.#warnings)}`);
    return parts.join('; ');
  }
}

function summarise(m: Map<string, number>): string {
  const items = [...m].slice(0, MAX_REASONS).map(([text, n]) => (n > 1 ? `${text} (${n} times)` : text));
  const more = m.size - MAX_REASONS;
  return items.join('; ') + (more > 0 ? `; and ${more} more kinds` : '');
}
