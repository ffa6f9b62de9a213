/**
 * A text[] value written into SQL text, for statements sent by the simple
 * query protocol (several statements in one round trip, and so no
 * parameters). Each element is quoted as array_in reads it (PostgreSQL docs,
 * "Array Value Input": double quotes, with `"` and `\` escaped by a
 * backslash), and the whole is an E'' string constant, whose backslashes
 * mean the same whatever standard_conforming_strings says. Text cannot hold
 * U+0000, so it becomes U+FFFD, as when the value is stored.
 */
import { clean } from '../common/text.ts';

export function textArrayLiteral(values: readonly string[]): string {
  const array = `{${values.map((v) => `"${clean(v).replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
  return `E'${array.replace(/['\\]/g, '$&$&')}'::text[]`;
}
