/**
 * Reads a Dockerfile and a .dockerignore the way `docker build` does, for
 * checking them without a Docker engine: `test/stack/dockerfile.test.ts`
 * checks the instructions, and `scripts/image-dry-run.ts` replays the build
 * steps in temporary directories.
 *
 * Covers what Verdict's Dockerfile uses: parser directives and comments, line
 * continuations, exec (JSON) and shell forms, `--flag=value` options, named
 * stages. Heredocs and ARG substitution are not supported (and not used).
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, … */
  keyword: string;
  /** `--from=build` → { from: 'build' }; `--link` → { link: '' }. */
  flags: Record<string, string>;
  /** Exec form: the JSON array; shell form: null. */
  exec: string[] | null;
  /** The arguments after the flags, as written (shell form) or joined (exec form). */
  text: string;
  /** Shell form split on whitespace (quotes not interpreted). */
  words: string[];
  line: number;
}

export interface Stage {
  index: number;
  /** `AS name`, or the index as a string. */
  name: string;
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  directives: Record<string, string>;
  stages: Stage[];
}

const FLAG_TAKERS = new Set(['COPY', 'ADD', 'RUN', 'FROM', 'HEALTHCHECK']);

export function parseDockerfile(text: string): Dockerfile {
  const directives: Record<string, string> = {};
  const stages: Stage[] = [];
  const lines = text.split('\n');
  let inDirectives = true;
  let pending = '';
  let startLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    if (pending === '' && trimmed.startsWith('#')) {
      const d = inDirectives ? /^#\s*([a-zA-Z]+)\s*=\s*(.+)$/.exec(trimmed) : null;
      if (d) directives[(d[1] as string).toLowerCase()] = (d[2] as string).trim();
      else inDirectives = false;
      continue;
    }
    if (pending !== '' && trimmed.startsWith('#')) continue; // comments inside a continued instruction
    if (trimmed === '' && pending === '') {
      inDirectives = false;
      continue;
    }
    inDirectives = false;
    if (pending === '') startLine = i + 1;
    if (/\\\s*$/.test(raw)) {
      pending += raw.replace(/\\\s*$/, '') + ' ';
      continue;
    }
    const full = (pending + raw).trim();
    pending = '';
    const m = /^([A-Za-z]+)\s*(.*)$/s.exec(full);
    if (!m) throw new Error(`Dockerfile line ${startLine}: cannot parse ${JSON.stringify(full)}`);
    const keyword = (m[1] as string).toUpperCase();
    let rest = (m[2] as string).trim();
    const flags: Record<string, string> = {};
    if (FLAG_TAKERS.has(keyword)) {
      for (let f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest); f; f = /^--([a-z-]+)(?:=(\S*))?\s*/.exec(rest)) {
        flags[f[1] as string] = f[2] ?? '';
        rest = rest.slice(f[0].length);
      }
    }
    let exec: string[] | null = null;
    // HEALTHCHECK's command follows "CMD".
    const execText = keyword === 'HEALTHCHECK' ? rest.replace(/^CMD\s+/, '') : rest;
    if (execText.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(execText);
        if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) exec = parsed as string[];
      } catch {
        exec = null; // Docker treats an invalid JSON array as shell form
      }
    }
    const ins: Instruction = { keyword, flags, exec, text: rest, words: rest.split(/\s+/).filter(Boolean), line: startLine };
    if (keyword === 'FROM') {
      const [base, as, name] = ins.words;
      stages.push({ index: stages.length, name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length), base: base ?? '', instructions: [ins] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile line ${startLine}: ${keyword} before FROM`);
      stage.instructions.push(ins);
    }
  }
  return { directives, stages };
}

export function readDockerfile(path: string): Dockerfile {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

/** COPY/ADD arguments: sources and destination (exec or shell form). */
export function copyArgs(ins: Instruction): { sources: string[]; dest: string } {
  const args = ins.exec ?? ins.words;
  if (args.length < 2) throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} needs a source and a destination`);
  return { sources: args.slice(0, -1), dest: args.at(-1) as string };
}

/** ENV in both forms: `ENV A=1 B=2` and the legacy `ENV A 1`. */
export function envPairs(ins: Instruction): Array<[string, string]> {
  if (!/^[^\s=]+=/.test(ins.text)) {
    const [k, ...v] = ins.words;
    return [[k as string, v.join(' ')]];
  }
  const out: Array<[string, string]> = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (let m = re.exec(ins.text); m; m = re.exec(ins.text)) {
    const v = m[2] as string;
    out.push([m[1] as string, v.startsWith('"') ? (JSON.parse(v) as string) : v]);
  }
  return out;
}

// ------------------------------------------------------------ .dockerignore

export interface IgnoreRule {
  exclude: boolean;
  re: RegExp;
  pattern: string;
}

/** Docker's pattern syntax (Go filepath.Match plus `**`), anchored at the context root. */
function patternToRegExp(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**` matches any number of directories, including none.
      out += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end === -1) out += '\\[';
      else {
        out += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const exclude = !l.startsWith('!');
      const pattern = (exclude ? l : l.slice(1)).trim().replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.\//, '');
      return { exclude, re: patternToRegExp(pattern), pattern };
    });
}

/** Whether a context-relative path is left out of the build context (a path is, if it or a parent directory matches). */
export function isIgnored(rules: readonly IgnoreRule[], relPath: string): boolean {
  const parts = relPath.replace(/^\.\//, '').split('/').filter(Boolean);
  let ignored = false;
  for (const rule of rules) {
    for (let n = 1; n <= parts.length; n++) {
      if (rule.re.test(parts.slice(0, n).join('/'))) {
        ignored = rule.exclude;
        break;
      }
    }
  }
  return ignored;
}
