/** The rules file: what it accepts, and start-up errors that name the rule. */
import { describe, expect, it } from 'vitest';
import { parseRules } from '../../src/rules/config.ts';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';

describe('parseRules', () => {
  it('accepts the shipped example', () => {
    const rules = parseRules(parse(readFileSync(new URL('../../examples/rules.yaml', import.meta.url), 'utf8')));
    expect(rules.map((r) => [r.name, r.kind])).toEqual([['user_frustration', 'regex'], ['genai_error', 'status'], ['slow_llm_call', 'threshold'], ['same_question_reasked', 'repeat']]);
  });

  it.each([
    [{ rules: [{ name: 'bad', kind: 'regex', pattern: '(unclosed' }] }, 'rules: rule "bad": invalid pattern "(unclosed": error parsing regexp: missing closing ): `(unclosed`'],
    [{ rules: [{ name: 'lookahead', kind: 'regex', pattern: 'a(?=b)' }] }, 'rules: rule "lookahead": invalid pattern "a(?=b)": error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    [{ rules: [{ name: 'backref', kind: 'regex', pattern: '(a)\\1' }] }, 'rules: rule "backref": invalid pattern "(a)\\\\1"'],
    [{ rules: [{ name: 'x', kind: 'magic' }] }, 'rules: rule "x": "kind" must be one of regex, status, threshold, repeat, got "magic"'],
    [{ rules: [{ name: 'x', kind: 'threshold', attribute: 'duration_ms' }] }, 'rules: rule "x": set "above" or "below"'],
    [{ rules: [{ name: 'x', kind: 'status', pattern: 'a' }] }, 'rules: rule "x": unknown field "pattern" for a status rule'],
    [{ rules: [{ name: 'x', kind: 'status' }, { name: 'x', kind: 'repeat' }] }, 'rules: rule "x": the name is used twice'],
    [{ rules: [{ kind: 'status' }] }, 'rules: rule 1: "name" must be 1-128 letters, digits, _ . or -'],
    [{ rule: [] }, 'rules: must be a mapping with a "rules" list'],
  ])('refuses %j naming the rule', (doc, message) => {
    expect(() => parseRules(doc)).toThrow(message);
  });
});
