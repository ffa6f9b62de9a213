/**
 * docs/schema.md's "Where each column comes from" keeps up with the
 * convention tables: every attribute each convention reads is listed under
 * it with the column it fills, and the operation and provider tables say
 * what the code does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aiSdkOperation } from '../../src/normalize/conventions/ai-sdk.ts';
import { LANGSMITH_KINDS } from '../../src/normalize/conventions/langsmith.ts';
import { OPENINFERENCE_KINDS } from '../../src/normalize/conventions/openinference.ts';
import { TRACELOOP_KINDS } from '../../src/normalize/conventions/openllmetry.ts';
import { CONVENTIONS } from '../../src/normalize/conventions/registry.ts';
import { OPERATION_ALIASES, operationName, PROVIDER_ALIASES, providerName, PROVIDERS } from '../../src/normalize/conventions/values.ts';

const doc = readFileSync(new URL('../../docs/schema.md', import.meta.url), 'utf8');
const where = doc.slice(doc.indexOf('## Where each column comes from'));

/** The text under a `### heading`, up to the next heading. */
function section(heading: string): string {
  const start = where.indexOf(`### ${heading}\n`);
  if (start === -1) throw new Error(`docs/schema.md has no section "### ${heading}"`);
  const end = where.indexOf('\n### ', start + 4);
  return where.slice(start, end === -1 ? undefined : end);
}

const SQL: Record<string, string> = {
  operation: 'gen_ai_operation_name', provider: 'gen_ai_provider_name', requestModel: 'gen_ai_request_model', responseModel: 'gen_ai_response_model',
  responseId: 'gen_ai_response_id', conversationId: 'gen_ai_conversation_id', agentName: 'gen_ai_agent_name', toolName: 'gen_ai_tool_name',
  toolCallId: 'gen_ai_tool_call_id', userId: 'user_id', inputTokens: 'gen_ai_input_tokens', outputTokens: 'gen_ai_output_tokens',
  input: 'gen_ai_input_messages', output: 'gen_ai_output_messages', system: 'gen_ai_system_instructions', toolArguments: 'gen_ai_tool_call_arguments', toolResult: 'gen_ai_tool_call_result',
};

/** The body rows of the Markdown table in a text (not its header), as arrays of cell texts. */
const rows = (text: string) => {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  return lines.slice(2).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
};

describe('docs/schema.md, where each column comes from', () => {
  it('lists the conventions in their order of precedence', () => {
    const headings = CONVENTIONS.map((c) => where.indexOf(`### ${c.name}\n`));
    expect(headings.every((h) => h > 0)).toBe(true);
    expect([...headings].sort((a, b) => a - b)).toEqual(headings);
  });

  it.each(CONVENTIONS.map((c) => [c.name, c] as const))('lists every attribute %s reads, with its column', (name, c) => {
    const text = section(name);
    for (const [key, target] of Object.entries(c.attributes)) {
      const column = 'column' in target ? target.column : 'content' in target ? target.content : undefined;
      if (column) expect(text, key).toContain(`| \`${key}\` | \`${SQL[column]}\``);
      else expect(text, key).toContain(`| \`${key}\` |`);
    }
    for (const prefix of Object.keys(c.prefixes ?? {})) expect(text, prefix).toContain(`| \`${prefix}`);
  });

  it('says which marker becomes which operation name, as the code does', () => {
    const table = rows(section('Operation names')).map(([, attr, from, to]) => [attr!.replaceAll('`', ''), from!, to!.replaceAll('`', '')] as const);
    const maps: Record<string, Readonly<Record<string, string>>> = {
      'openinference.span.kind': OPENINFERENCE_KINDS, 'traceloop.span.kind': TRACELOOP_KINDS, 'langsmith.span.kind': LANGSMITH_KINDS,
    };
    for (const [attr, from, to] of table) {
      const value = from.startsWith('`') && from.endsWith('`') ? from.slice(1, -1) : null;
      if (value === null) continue; // a described case (LangChain's agent root), tested with the convention
      const expected = maps[attr]?.[value] ?? (attr === 'ai.operationId' ? aiSdkOperation(value) : operationName(value));
      expect([attr, value, to]).toEqual([attr, value, expected]);
    }
    for (const [attr, map] of Object.entries(maps)) {
      for (const [from, to] of Object.entries(map)) expect(table).toContainEqual([attr, `\`${from}\``, to]);
    }
    for (const [from, to] of OPERATION_ALIASES) expect(table.some(([, f, t]) => f === `\`${from}\`` && t === to)).toBe(true);
  });

  it('says which spelling becomes which provider, as the code does', () => {
    const text = section('Provider names');
    for (const p of PROVIDERS) expect(text).toContain(`\`${p}\``);
    const table = rows(text).map(([from, to]) => [from!.replaceAll('`', ''), to!.startsWith('NULL') ? null : to!.replaceAll('`', '')] as const);
    for (const [from, to] of table) expect([from, providerName(from)]).toEqual([from, to]);
    for (const [from, to] of Object.entries(PROVIDER_ALIASES)) expect(table).toContainEqual([from, to]);
  });
});
