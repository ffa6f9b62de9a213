/**
 * Which addresses to bind. The default host, `localhost`, binds both
 * loopbacks, so an exporter configured with `localhost` connects whether its
 * resolver says 127.0.0.1 or ::1 (Node ≥ 17 prefers ::1).
 */
export function bindAddresses(host: string): string[] {
  return host === 'localhost' ? ['127.0.0.1', '::1'] : [host];
}

/** Errors that mean "this machine has no such address" (an IPv4-only container has no ::1). */
export function isAddressUnavailable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT';
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
