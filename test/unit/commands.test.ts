/** The command line: which command runs, with which settings and options, and one line naming what is wrong. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { helpText, parseCommand } from '../../src/commands.ts';
import { ConfigError } from '../../src/errors.ts';

const DAY = 86_400_000;

describe('parseCommand', () => {
  it('runs serve by default and reads the settings after the command word', () => {
    const p = parseCommand(['--http-port', '4400'], {});
    expect(p.command).toBe('serve');
    expect(p.command === 'serve' && p.config.httpPort).toBe(4400);
    const m = parseCommand(['migrate', '--data-dir=x'], {});
    expect(m.command === 'migrate' && m.config.dataDir).toBe('x');
  });

  it('reads prune options beside the settings', () => {
    const p = parseCommand(['prune', '--data-dir', 'x', '--older-than=2w', '--keep-with-verdicts', '--batch-size', '10', '--log-level', 'warn'], {});
    expect(p.command).toBe('prune');
    if (p.command !== 'prune') return;
    expect(p.options).toEqual({ olderThanMs: 14 * DAY, keepWithVerdicts: true, batchSize: 10 });
    expect(p.config).toMatchObject({ dataDir: 'x', logLevel: 'warn' });
  });

  it('reads evaluate options: a worker, or a backfill of a time range for some evaluators', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'verdict-cmd-')), 'v.yaml');
    writeFileSync(file, JSON.stringify({ evaluators: ['a', 'b'].map((name) => ({ name, model: { base_url: 'http://127.0.0.1:1/v1', model: 'm' }, prompt: '{{output}}', output: { labels: { ok: 'positive' } } })) }));
    const now = Date.UTC(2026, 2, 10);
    const w = parseCommand(['evaluate', '--config', file, '--workers', '4'], {}, now);
    expect(w.command === 'evaluate' && w.options).toEqual({ workers: 4, backfill: null });
    const b = parseCommand(['evaluate', '--config', file, '--backfill', '--since', '7d', '--evaluator', 'b'], {}, now);
    expect(b.command === 'evaluate' && b.options).toEqual({ workers: 2, backfill: { since: new Date(now - 7 * DAY), until: new Date(now), evaluators: ['b'] } });
    expect(() => parseCommand(['evaluate'], {})).toThrow('verdict evaluate needs evaluators');
    expect(() => parseCommand(['evaluate', '--config', file, '--backfill'], {})).toThrow('verdict evaluate --backfill needs --since, e.g. --since 7d');
    expect(() => parseCommand(['evaluate', '--config', file, '--since', '7d'], {})).toThrow('--since goes with --backfill');
    expect(() => parseCommand(['evaluate', '--config', file, '--backfill', '--since', '7d', '--evaluator', 'c'], {})).toThrow('invalid --evaluator: "c" is not an evaluator of the config file (a, b)');
  });

  it.each([
    [['prune', '--keep-with-verdicts'], 'verdict prune needs --older-than, e.g. --older-than 30d'],
    [['prune', '--older-than', '30d', '--batch-size', '0'], 'invalid --batch-size: "0" is not a positive integer'],
    [['prune', '--older-than'], 'option --older-than needs a value'],
    [['prune', '--older-than', '30d', '--keep-with-verdicts=yes'], 'option --keep-with-verdicts takes no value'],
    [['serve', '--older-than', '30d'], 'unknown option --older-than; see verdict --help'],
    [['serv'], 'unknown command "serv"; commands: serve, migrate, prune, export, compare, evaluate (see verdict --help)'],
    [['migrate', 'extra'], 'unexpected argument "extra"; see verdict --help'],
  ])('refuses %j with one line naming what is wrong', (argv, message) => {
    expect(() => parseCommand(argv, {})).toThrow(new ConfigError(message));
  });

  it('prints the help of a command, with its own options, for `verdict <command> --help`', () => {
    const p = parseCommand(['prune', '--help'], {});
    expect(p).toEqual({ command: 'help', text: helpText('prune') });
    expect(helpText('prune')).toContain('--older-than <age>');
    expect(helpText()).not.toContain('--older-than <age>');
    expect(parseCommand(['--help'], {})).toEqual({ command: 'help', text: helpText() });
  });
});
