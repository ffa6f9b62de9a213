/** Code blocks of a Markdown document that are marked `<!-- example: kind -->`, for running documentation examples. */
import { readFileSync } from 'node:fs';

export interface Example {
  kind: string;
  lang: string;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

export function examples(file: URL): Example[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- example: ([\w-]+) -->$/.exec(lines[i]!.trim());
    if (!marker) continue;
    const fence = /^```(\w*)$/.exec(lines[i + 1] ?? '');
    if (!fence) throw new Error(`${file.pathname}:${i + 1}: an example marker must be followed by a code fence`);
    const end = lines.indexOf('```', i + 2);
    out.push({ kind: marker[1]!, lang: fence[1]!, code: lines.slice(i + 2, end).join('\n'), line: i + 2 });
    i = end;
  }
  return out;
}
